"""The framework's settings: every ``JOB_*`` setting with its default, read and checked here.

A project sets only what it wants to change, in its Django settings; ``setting(name)`` gives the
project's value or, when the project does not set it or sets it to ``None``, the default.
Values are checked once, when first read: a bad one raises ``ImproperlyConfigured`` with one
line naming the setting (exit 78 from any job), and ``manage.py check`` lists every bad one
(``batch_jobs.checks``) under the setting's own check id. The cache is cleared when a test
changes a setting (``override_settings``, pytest-django's ``settings`` fixture).
"""

import dataclasses
import functools
import importlib.util
import math
import os
import re
import threading
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

# -- validators: each takes (name, value) and yields one message per problem -------------------


def must_be(test, what, show_value=True):
    """A validator: "NAME must be WHAT, not VALUE" when ``test(value)`` is false (the value
    left out of the message where it may be a secret)."""

    def check(name, value):
        if not test(value):
            yield f"{name} must be {what}" + (f", not {value!r}" if show_value else "")

    return check


def list_of(kind):
    """A test: a list or tuple (any iterable but a string) of ``kind`` only."""

    def test(value):
        if isinstance(value, str):
            return False
        try:
            return all(isinstance(item, kind) for item in value)
        except TypeError:  # not iterable at all
            return False

    return test


def whole_number(at_least):
    return lambda value: (
        isinstance(value, int) and not isinstance(value, bool) and value >= at_least
    )


#: The most seconds any duration may be: the longest wait ``threading`` accepts (some 292
#: years). A longer one would be accepted here and then fail, or be silently off, where it is
#: waited for (the watchdog's thread would die of ``OverflowError``).
MAX_SECONDS = threading.TIMEOUT_MAX


def seconds(name, value):
    """A number of seconds, zero or more, at most ``MAX_SECONDS``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        yield f"{name} must be a number of seconds, not {value!r}"
    elif not (value >= 0 and math.isfinite(value)):
        yield f"{name} must be zero or more seconds, not {value!r}"
    elif value > MAX_SECONDS:
        yield f"{name} must be at most {MAX_SECONDS:.0f} seconds, not {value!r}"


def http_url(name, value):
    """An http(s) URL, or ``""`` for none."""
    if not isinstance(value, str) or (value and not re.match(r"https?://", value)):
        yield f"{name} must be an http(s) URL, not {value!r}"


def needs(module, extra):
    """A validator: a set (truthy) value needs ``module``, from the package's ``extra``."""

    def check(name, value):
        if value and importlib.util.find_spec(module) is None:
            yield f"{name} needs {module}: pip install 'django-batch-jobs[{extra}]'"

    return check


def installed_apps(name, value):
    """Names or labels of installed apps."""
    if not list_of(str)(value):
        yield f"{name} must be a list of app names, not {value!r}"
        return
    from django.apps import apps as registry

    installed = {c.name for c in registry.get_app_configs()}
    installed |= {c.label for c in registry.get_app_configs()}
    for app in value:
        if app not in installed:
            yield f"{name} names {app!r}, which is not installed"


def dotted_paths(name, value):
    """Dotted paths of objects that import."""
    if not list_of(str)(value):
        yield f"{name} must be a list of dotted paths, not {value!r}"
        return
    from django.utils.module_loading import import_string

    for path in value:
        try:
            import_string(path)
        except ImportError as e:
            yield f"{name}: cannot import {path!r}: {e}"


def database_alias(name, value):
    """A key of ``DATABASES``."""
    if value not in settings.DATABASES:
        yield f"{name} is {value!r}, which is not a key of DATABASES"


def database_aliases(name, value):
    """Keys of ``DATABASES``."""
    if not list_of(str)(value):
        yield f"{name} must be a list of keys of DATABASES, not {value!r}"
        return
    for alias in value:
        yield from database_alias(name, alias)


def tasks_backend(name, value):
    """An alias of ``TASKS``, with Django's task framework (6.0) or its backport installed."""
    if not isinstance(value, str) or not value:
        yield f"{name} must be the alias of a TASKS backend, not {value!r}"
        return
    if not any(importlib.util.find_spec(m) for m in ("django.tasks", "django_tasks")):
        yield f"{name} needs Django 6's django.tasks or pip install 'django-batch-jobs[tasks]'"
        return
    # Without TASKS, both frameworks give one backend, "default" (ImmediateBackend).
    if value not in (getattr(settings, "TASKS", None) or {"default": None}):
        yield f"{name} is {value!r}, which is not a key of TASKS"


def storage_alias(name, value):
    """A key of ``STORAGES``."""
    if not isinstance(value, str) or value not in getattr(settings, "STORAGES", {}):
        yield f"{name} is {value!r}, which is not a key of STORAGES"


def non_empty_string(name, value):
    if not isinstance(value, str) or not value:
        yield f"{name} must be a non-empty string"


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?")
_SENTRY_DSN = re.compile(r"https?://[^@/]+@")


def _app_name(value):
    """``JOB_APP_NAME``, by default the settings module's top package."""
    if value is not None:
        return value
    # The environment's name survives override_settings, which hides SETTINGS_MODULE.
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE
    return (module or "django-jobs").partition(".")[0].replace("_", "-").lower()


# -- the table ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setting:
    """One framework setting: its default, its validators, and the id of the system check
    that reports a bad value. Ids are fixed: a new setting takes the next free one, and a
    removed setting's id is never given to another (a project may have silenced it)."""

    name: str
    default: object
    check: Iterable[Callable] = ()  # validators, each run on a value other than None
    id: str = ""
    clean: Callable = lambda value: value  # the value as ``setting()`` gives it


#: Every setting the framework reads, with its default. The README's configuration table
#: lists them; a test keeps the two in step, and another keeps each check id as it is.
SETTINGS = (
    # Apps whose JobCommand subclasses `job` runs; None: every installed app.
    Setting("JOB_APPS", None, [installed_apps], id="batch_jobs.E001"),
    # Commands that are not jobs but that `job` may run too.
    Setting(
        "JOB_ALLOWED_COMMANDS",
        ("migrate", "check", "showmigrations", "clearsessions"),
        [must_be(list_of(str), "a list")],
        id="batch_jobs.E002",
    ),
    # Alias of the connection for the overlap lock and run records: a direct one to
    # PostgreSQL when "default" goes through a transaction-mode pooler. None: a second
    # connection to the default database (batch_jobs.framework.connection).
    Setting("JOB_CONTROL_DATABASE", None, [database_alias], id="batch_jobs.E003"),
    # Seconds to wait for the database at start before exit 69.
    Setting("JOB_DB_WAIT_SECONDS", 30.0, [seconds], id="batch_jobs.E004", clean=float),
    # Seconds one batch, or one statement outside batches, may wait on the database before
    # exit 75; 0 waits for ever.
    Setting("JOB_DB_TIMEOUT", 300.0, [seconds], id="batch_jobs.E005", clean=float),
    # Seconds between progress events off a terminal.
    Setting("JOB_PROGRESS_INTERVAL", 10.0, [seconds], id="batch_jobs.E006", clean=float),
    # healthchecks.io-style monitor: <url>/start, then <url>/<exit code>.
    Setting("JOB_PING_URL", "", [http_url], id="batch_jobs.E007"),
    # Prometheus Pushgateway that receives each run's metrics (needs prometheus-client).
    Setting(
        "JOB_PUSHGATEWAY_URL",
        "",
        [http_url, needs("prometheus_client", "prometheus")],
        id="batch_jobs.E008",
    ),
    # Sentry DSN, for projects that do not initialise sentry-sdk themselves.
    Setting(
        "JOB_SENTRY_DSN",
        "",
        [
            needs("sentry_sdk", "sentry"),
            must_be(
                lambda dsn: isinstance(dsn, str) and (not dsn or _SENTRY_DSN.match(dsn)),
                "a Sentry DSN (https://KEY@HOST/ID)",
                show_value=False,  # a secret
            ),
        ],
        id="batch_jobs.E009",
    ),
    # Minutes late a scheduled run may check in before Sentry calls it missed.
    Setting(
        "JOB_SENTRY_CHECKIN_MARGIN",
        5,
        [must_be(whole_number(at_least=1), "a whole number of minutes, 1 or more")],
        id="batch_jobs.E010",
    ),
    # Exit codes that open a Sentry issue: bugs and the permanent failures. Retryable codes
    # (69, 75, 130, 143) only mark the check-in as an error.
    Setting(
        "JOB_SENTRY_ISSUE_EXIT_CODES",
        (1, 2, 65, 78),
        [must_be(list_of(int), "a list of exit codes")],
        id="batch_jobs.E011",
    ),
    # Seconds a monitor (ping, Pushgateway, Sentry) may take before it is given up on.
    Setting("JOB_MONITOR_TIMEOUT", 5.0, [seconds], id="batch_jobs.E012", clean=float),
    # Prefix of every lock key, so that projects sharing a server do not collide.
    Setting("JOB_LOCK_NAMESPACE", "django-jobs", [non_empty_string], id="batch_jobs.E013"),
    # "auto" (JSON off a terminal, text on one), "json" or "text".
    Setting(
        "JOB_LOG_FORMAT",
        "auto",
        [must_be(lambda choice: choice in ("auto", "json", "text"), "auto, json or text")],
        id="batch_jobs.E014",
    ),
    # What `jobctl render` names things after: the app.kubernetes.io/name label, the Secret,
    # systemd unit and log file prefixes. None: the settings module's top package.
    Setting(
        "JOB_APP_NAME",
        None,
        [
            must_be(
                lambda name: isinstance(name, str) and _DNS_LABEL.fullmatch(name),
                "a DNS label of 40 characters at most",
            )
        ],
        id="batch_jobs.E015",
        clean=_app_name,
    ),
    # The user id the image runs as (Kubernetes runAsUser).
    Setting(
        "JOB_IMAGE_UID",
        10001,
        [must_be(whole_number(at_least=1), "a user id above 0 (not root)")],
        id="batch_jobs.E016",
    ),
    # Dotted paths of checks that hold every batch walk between batches while they return a
    # reason: check(connection) -> None when the database is healthy, else a one-line reason.
    Setting("JOB_HEALTH_CHECKS", (), [dotted_paths], id="batch_jobs.E017"),
    # Let the runner run what drops or rewrites data through an allowlisted command (a
    # backward migration, `migrate --fake`/`--fake-initial`/`--prune`). Off: refused, exit 64.
    Setting(
        "JOB_ALLOW_DESTRUCTIVE",
        False,
        [must_be(lambda allow: isinstance(allow, bool), "True or False")],
        id="batch_jobs.E018",
    ),
    # Aliases of DATABASES that are replicas of the default database, whose lag --max-lag
    # reads on each (MariaDB and MySQL: SHOW REPLICA STATUS). PostgreSQL reads its replicas'
    # lag on the primary and needs none.
    Setting("JOB_REPLICA_DATABASES", (), [database_aliases], id="batch_jobs.E019"),
    # The last lines of stdout and stderr each run keeps in its record (JobRun.output), each
    # line redacted and cut to batch_jobs.framework.output.LINE_CHARS; 0 keeps none.
    Setting(
        "JOB_OUTPUT_LINES",
        100,
        [must_be(whole_number(at_least=0), "a whole number of lines, 0 or more")],
        id="batch_jobs.E020",
    ),
    # The alias of a django.tasks backend (TASKS) that runs start requests: request_start
    # enqueues each as a task, which claims it and runs it as its own `job` process, as
    # `jobctl worker` would. None: a `jobctl worker` claims them from the table.
    Setting("JOB_TASKS_BACKEND", None, [tasks_backend], id="batch_jobs.E021"),
    # Alias in STORAGES where the console saves uploaded files, and where a job's
    # `storage:NAME` file arguments (batch_jobs.StoredFile) are read from.
    Setting("JOB_UPLOAD_STORAGE", "default", [storage_alias], id="batch_jobs.E022"),
    # Days an uploaded file is kept; prune_job_runs deletes older ones.
    Setting(
        "JOB_UPLOAD_RETENTION",
        7,
        [must_be(whole_number(at_least=1), "a whole number of days, 1 or more")],
        id="batch_jobs.E023",
    ),
    # The most bytes one uploaded file may have; the Run form refuses a larger one.
    Setting(
        "JOB_UPLOAD_MAX_SIZE",
        50 * 1024 * 1024,
        [must_be(whole_number(at_least=1), "a whole number of bytes, 1 or more")],
        id="batch_jobs.E024",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}
#: Every setting's default, by name.
DEFAULTS = {s.name: s.default for s in SETTINGS}


def value(name):
    """The project's value of ``name``, unchecked; the default when unset or ``None``."""
    found = getattr(settings, name, None)
    return DEFAULTS[name] if found is None else found


def problems():
    """``[(setting, message)]`` for every setting whose value cannot be used."""
    found = []
    for declared in SETTINGS:
        current = value(declared.name)
        if current is None:  # a default of None: the setting is off, or derived
            continue
        for check in declared.check:
            found += [(declared.name, message) for message in check(declared.name, current)]
    return found


@functools.cache
def _values():
    found = problems()
    if found:
        raise ImproperlyConfigured(found[0][1])
    return {s.name: s.clean(value(s.name)) for s in SETTINGS}


def setting(name):
    """The value of framework setting ``name``: the project's, else the default."""
    return _values()[name]


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting in DEFAULTS or setting in ("DATABASES", "STORAGES"):
        _values.cache_clear()
