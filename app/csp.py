"""The Content-Security-Policy header on Django 5.2, from the setting Django 6.0 reads.

Django 6.0 sends the header itself (``django.middleware.csp``, from ``SECURE_CSP``), and
settings.py uses it there; on 5.2 this middleware sends the same header from the same setting,
so that the policy is written once. It knows no nonces: the console needs none (it has no
inline script or style), and a project that does uses Django 6.0 or django-csp.
"""

from django.conf import settings

HEADER = "Content-Security-Policy"


def build_policy(config):
    """``{"default-src": ["'self'"], ...}`` as ``default-src 'self'; ...``; a directive
    without sources (``upgrade-insecure-requests``) is ``True``, and ``None`` leaves one out."""
    return "; ".join(
        directive if sources is True else f"{directive} {' '.join(sources)}"
        for directive, sources in config.items()
        if sources not in (None, False)
    )


class ContentSecurityPolicyMiddleware:
    """``SECURE_CSP`` on every response that has no policy of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        config = getattr(settings, "SECURE_CSP", None)
        if config and HEADER not in response:
            response.headers[HEADER] = build_policy(config)
        return response
