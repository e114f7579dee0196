"""The framework's settings: every ``JOB_*`` setting with its default, read and checked here.

A project sets only what it wants to change, in its Django settings; ``setting(name)`` gives the
project's value or, when the project does not set it or sets it to ``None``, the default.
Values are checked once, when first read: a bad one raises ``ImproperlyConfigured`` with one
line naming the setting (exit 78 from any job), and ``manage.py check`` lists every bad one
(``batch_jobs.checks``). The cache is cleared when a test changes a setting (``override_settings``,
pytest-django's ``settings`` fixture).
"""

import functools
import importlib.util
import math
import os
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

#: Every setting the framework reads, with its default. The README's configuration table
#: lists them; a test keeps the two in step.
DEFAULTS = {
    # Apps whose JobCommand subclasses `job` runs; None: every installed app.
    "JOB_APPS": None,
    # Commands that are not jobs but that `job` may run too.
    "JOB_ALLOWED_COMMANDS": ("migrate", "check", "showmigrations", "clearsessions"),
    # Alias of the connection for the overlap lock and run records: a direct one to
    # PostgreSQL when "default" goes through a transaction-mode pooler. None: a second
    # connection to the default database (batch_jobs.framework.control).
    "JOB_CONTROL_DATABASE": None,
    # Seconds to wait for the database at start before exit 69.
    "JOB_DB_WAIT_SECONDS": 30.0,
    # Seconds one batch, or one statement outside batches, may wait on the database before
    # exit 75; 0 waits for ever.
    "JOB_DB_TIMEOUT": 300.0,
    # Seconds between progress events off a terminal.
    "JOB_PROGRESS_INTERVAL": 10.0,
    # healthchecks.io-style monitor: <url>/start, then <url>/<exit code>.
    "JOB_PING_URL": "",
    # Prometheus Pushgateway that receives each run's metrics (needs prometheus-client).
    "JOB_PUSHGATEWAY_URL": "",
    # Sentry DSN, for projects that do not initialise sentry-sdk themselves.
    "JOB_SENTRY_DSN": "",
    # Minutes late a scheduled run may check in before Sentry calls it missed.
    "JOB_SENTRY_CHECKIN_MARGIN": 5,
    # Exit codes that open a Sentry issue: bugs and the permanent failures. Retryable codes
    # (69, 75, 130, 143) only mark the check-in as an error.
    "JOB_SENTRY_ISSUE_EXIT_CODES": (1, 2, 65, 78),
    # Seconds a monitor (ping, Pushgateway, Sentry) may take before it is given up on.
    "JOB_MONITOR_TIMEOUT": 5.0,
    # Prefix of every lock key, so that projects sharing a server do not collide.
    "JOB_LOCK_NAMESPACE": "django-jobs",
    # "auto" (JSON off a terminal, text on one), "json" or "text".
    "JOB_LOG_FORMAT": "auto",
    # What `jobctl render` names things after: the app.kubernetes.io/name label, the Secret,
    # systemd unit and log file prefixes. None: the settings module's top package.
    "JOB_APP_NAME": None,
    # The user id the image runs as (Kubernetes runAsUser).
    "JOB_IMAGE_UID": 10001,
    # Dotted paths of checks that hold every batch walk between batches while they return a
    # reason: check(connection) -> None when the database is healthy, else a one-line reason.
    "JOB_HEALTH_CHECKS": (),
}

_SECONDS = ("JOB_DB_WAIT_SECONDS", "JOB_DB_TIMEOUT", "JOB_PROGRESS_INTERVAL", "JOB_MONITOR_TIMEOUT")
_URLS = ("JOB_PING_URL", "JOB_PUSHGATEWAY_URL")
#: Settings that need a package the framework does not require: (setting, module, extra).
_NEEDS = (
    ("JOB_PUSHGATEWAY_URL", "prometheus_client", "prometheus"),
    ("JOB_SENTRY_DSN", "sentry_sdk", "sentry"),
)
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?")


def value(name):
    """The project's value of ``name``, unchecked; the default when unset or ``None``."""
    found = getattr(settings, name, None)
    return DEFAULTS[name] if found is None else found


def problems():
    """``[(setting, message)]`` for every setting whose value cannot be used."""
    found = []
    for name in _SECONDS:
        seconds = value(name)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            found.append((name, f"{name} must be a number of seconds, not {seconds!r}"))
        elif not (seconds >= 0 and math.isfinite(seconds)):
            found.append((name, f"{name} must be zero or more seconds, not {seconds!r}"))
    apps = value("JOB_APPS")
    if apps is not None:
        if isinstance(apps, str) or not all(isinstance(a, str) for a in apps):
            found.append(("JOB_APPS", f"JOB_APPS must be a list of app names, not {apps!r}"))
        else:
            from django.apps import apps as registry

            installed = {c.name for c in registry.get_app_configs()}
            installed |= {c.label for c in registry.get_app_configs()}
            for app in apps:
                if app not in installed:
                    found.append(("JOB_APPS", f"JOB_APPS names {app!r}, which is not installed"))
    checks = value("JOB_HEALTH_CHECKS")
    if isinstance(checks, str) or not all(isinstance(c, str) for c in checks):
        found.append(
            (
                "JOB_HEALTH_CHECKS",
                f"JOB_HEALTH_CHECKS must be a list of dotted paths, not {checks!r}",
            )
        )
    else:
        from django.utils.module_loading import import_string

        for path in checks:
            try:
                import_string(path)
            except ImportError as e:
                found.append(
                    ("JOB_HEALTH_CHECKS", f"JOB_HEALTH_CHECKS: cannot import {path!r}: {e}")
                )
    allowed = value("JOB_ALLOWED_COMMANDS")
    if isinstance(allowed, str) or not all(isinstance(c, str) for c in allowed):
        found.append(
            ("JOB_ALLOWED_COMMANDS", f"JOB_ALLOWED_COMMANDS must be a list, not {allowed!r}")
        )
    control = value("JOB_CONTROL_DATABASE")
    if control is not None and control not in settings.DATABASES:
        found.append(
            (
                "JOB_CONTROL_DATABASE",
                f"JOB_CONTROL_DATABASE is {control!r}, which is not a key of DATABASES",
            )
        )
    for name in _URLS:
        url = value(name)
        if not isinstance(url, str) or (url and not re.match(r"https?://", url)):
            found.append((name, f"{name} must be an http(s) URL, not {url!r}"))
    for name, module, extra in _NEEDS:
        if value(name) and importlib.util.find_spec(module) is None:
            found.append((name, f"{name} needs {module}: pip install 'django-batch-jobs[{extra}]'"))
    dsn = value("JOB_SENTRY_DSN")
    if not isinstance(dsn, str) or (dsn and not re.match(r"https?://[^@/]+@", dsn)):
        found.append(
            ("JOB_SENTRY_DSN", "JOB_SENTRY_DSN must be a Sentry DSN (https://KEY@HOST/ID)")
        )
    margin = value("JOB_SENTRY_CHECKIN_MARGIN")
    if isinstance(margin, bool) or not isinstance(margin, int) or margin < 1:
        found.append(
            (
                "JOB_SENTRY_CHECKIN_MARGIN",
                f"JOB_SENTRY_CHECKIN_MARGIN must be a whole number of minutes, 1 or more, "
                f"not {margin!r}",
            )
        )
    codes = value("JOB_SENTRY_ISSUE_EXIT_CODES")
    if isinstance(codes, str | int) or not all(isinstance(c, int) for c in codes):
        found.append(
            (
                "JOB_SENTRY_ISSUE_EXIT_CODES",
                f"JOB_SENTRY_ISSUE_EXIT_CODES must be a list of exit codes, not {codes!r}",
            )
        )
    namespace = value("JOB_LOCK_NAMESPACE")
    if not isinstance(namespace, str) or not namespace:
        found.append(("JOB_LOCK_NAMESPACE", "JOB_LOCK_NAMESPACE must be a non-empty string"))
    log_format = value("JOB_LOG_FORMAT")
    if log_format not in ("auto", "json", "text"):
        found.append(
            ("JOB_LOG_FORMAT", f"JOB_LOG_FORMAT must be auto, json or text, not {log_format!r}")
        )
    name = value("JOB_APP_NAME")
    if name is not None and not (isinstance(name, str) and _DNS_LABEL.fullmatch(name)):
        found.append(
            (
                "JOB_APP_NAME",
                f"JOB_APP_NAME must be a DNS label of 40 characters at most, not {name!r}",
            )
        )
    uid = value("JOB_IMAGE_UID")
    if isinstance(uid, bool) or not isinstance(uid, int) or uid < 1:
        found.append(
            ("JOB_IMAGE_UID", f"JOB_IMAGE_UID must be a user id above 0 (not root), not {uid!r}")
        )
    return found


@functools.cache
def _values():
    found = problems()
    if found:
        raise ImproperlyConfigured(found[0][1])
    values = {name: value(name) for name in DEFAULTS}
    for name in _SECONDS:
        values[name] = float(values[name])
    if values["JOB_APP_NAME"] is None:
        # The environment's name survives override_settings, which hides SETTINGS_MODULE.
        module = os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE
        top = (module or "django-jobs").partition(".")[0]
        values["JOB_APP_NAME"] = top.replace("_", "-").lower()
    return values


def setting(name):
    """The value of framework setting ``name``: the project's, else the default."""
    return _values()[name]


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting in DEFAULTS or setting == "DATABASES":
        _values.cache_clear()
