"""Setting Django up for the ``job`` and ``jobctl`` console scripts.

Both need ``DJANGO_SETTINGS_MODULE`` from the environment, as ``django-admin`` does. Every
configuration problem (the variable unset, a settings module that cannot be imported or
raises ``ImproperlyConfigured``, a framework setting with a bad value) comes out as
``ImproperlyConfigured`` with one line, which the scripts print and exit 78 with.
"""

import importlib
import os
import sys

from django.core.exceptions import ImproperlyConfigured

#: Set to "0" in the environment for commands that touch no database (``job --list``,
#: ``jobctl render``...), so that settings which insist on a database URL may let them run.
NEEDS_DATABASE = "JOB_RUNNER_NEEDS_DATABASE"


def setup(needs_database=True):
    """``django.setup()`` with the framework's settings checked; raises ImproperlyConfigured."""
    import django

    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        raise ImproperlyConfigured(
            "DJANGO_SETTINGS_MODULE is not set; export it as your project's settings module "
            "(for example DJANGO_SETTINGS_MODULE=mysite.settings)"
        )
    if not needs_database:
        os.environ[NEEDS_DATABASE] = "0"
    # As with `python manage.py`, whose folder is on sys.path: the project imports from the
    # directory the script runs in. Appended, so that it shadows no installed package.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise ImproperlyConfigured(
            f"cannot import settings module {module!r}: {e}; run it from your project's "
            "directory (where manage.py is), or put that directory on PYTHONPATH"
        ) from None
    try:
        django.setup()
    except ModuleNotFoundError as e:
        if not names_an_installed_app(e.name):
            raise  # an app's own code that does not import: a bug, with its traceback
        raise ImproperlyConfigured(
            f"INSTALLED_APPS names {e.name!r}, which cannot be imported: install it, or put "
            "its directory on PYTHONPATH"
        ) from None
    # Raises ImproperlyConfigured, in one line, when "batch_jobs" is not in INSTALLED_APPS
    # (already imported, by django.setup(), when it is).
    import batch_jobs.models  # noqa: F401
    from batch_jobs.conf import setting

    setting("JOB_APPS")  # reads and checks every framework setting


def names_an_installed_app(module):
    """Whether ``module`` is an entry of ``INSTALLED_APPS``, or a package one lives in."""
    from django.conf import settings

    return bool(module) and any(
        app == module or app.startswith(module + ".") for app in settings.INSTALLED_APPS
    )


def one_line(error):
    return "configuration error: " + " ".join(str(error).split())
