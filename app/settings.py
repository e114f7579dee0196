"""Settings of the example project, read from the environment in this one place.

Every variable is documented in README.md ("Configuration"). Secrets may be given either as
``NAME`` or as ``NAME_FILE`` (a path whose content is the value, the docker-library
convention); setting both is a configuration error.
"""

from pathlib import Path

import django

from app.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# No default: a job that needs the key (password reset tokens, signed URLs) fails with
# ImproperlyConfigured, which the runner reports as a configuration error (exit 78). A weak
# key, or the one .envs/local.env ships (public, in this repository), is refused the same way
# unless DEBUG is on or DJANGO_LOCAL_DEVELOPMENT=1, which only that file sets: it must never
# sign a deployment's sessions.
LOCAL_SECRET_KEY = "local-only-insecure-secret-key-change-me-in-production"
SECRET_KEY = env.secret_key(
    "DJANGO_SECRET_KEY",
    public=[LOCAL_SECRET_KEY],
    allow_insecure=DEBUG or env.bool("DJANGO_LOCAL_DEVELOPMENT", default=False),
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
TIME_ZONE = env.time_zone("DJANGO_TIME_ZONE", default="UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "app.urls"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "batch_jobs",  # the framework: run records, checkpoints, prune_job_runs
    "app.store",  # the domain, with the example jobs as its management commands
    # Apps installed beside the project: a package of your own jobs layered on the image.
    *env.modules("DJANGO_EXTRA_APPS"),
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # X-Frame-Options: DENY, and a Content-Security-Policy (SECURE_CSP, below): no page of the
    # console can be framed, so its one-click buttons cannot be clickjacked.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Django 6.0+ sends SECURE_CSP itself; on 5.2, app/csp.py sends the same header.
    "django.middleware.csp.ContentSecurityPolicyMiddleware"
    if django.VERSION >= (6, 0)
    else "app.csp.ContentSecurityPolicyMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# The console (the admin), served by gunicorn in compose's `web` service
# ------------------------------------------------------------------------------
# Static files are collected into the image at build time and served by WhiteNoise.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploaded files (the console's Run form saves a job's file arguments there, under
# batch_jobs/uploads/; web, worker and job must share it: compose's `media` volume).
# https://docs.djangoproject.com/en/stable/ref/settings/#storages
MEDIA_ROOT = env.absolute_path("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# The origins that may post forms when a proxy in front changes the scheme or host.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# What a browser may load and who may frame a page: only this site, nothing inline (the
# console has no inline script or style), no framing at all. Django 6.0's setting, which
# app/csp.py reads on 5.2. https://docs.djangoproject.com/en/6.0/ref/csp/
SECURE_CSP = {
    "default-src": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
X_FRAME_OPTIONS = "DENY"

# In production the console is served over HTTPS by a TLS proxy in front of gunicorn, which
# sets X-Forwarded-Proto: DJANGO_HTTPS=1 says so, and turns on what `manage.py check --deploy`
# asks for: HTTPS-only cookies, a redirect of plain HTTP, HSTS. Trusting X-Forwarded-Proto is
# safe only when the proxy sets it on every request: never set DJANGO_HTTPS=1 without one.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
_https = env.bool("DJANGO_HTTPS", default=False)
if _https:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _https
# The health check comes from inside the container (compose, a kubelet), over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# The session and CSRF cookies over HTTPS only (DJANGO_SECURE_COOKIES alone: the older switch).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=_https)
# HSTS: browsers that saw the console over HTTPS refuse plain HTTP to its host for this long.
_hsts = env.seconds("DJANGO_HSTS_SECONDS")
SECURE_HSTS_SECONDS = int(_hsts) if _hsts is not None else 31_536_000 if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=_https)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=_https)

# ------------------------------------------------------------------------------
# Database
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# DATABASE_URL selects the database. The image sets DJANGO_REQUIRE_DATABASE_URL=1, so a
# container without it fails fast (except for commands the runner says need no database,
# such as `job --list`); on a laptop the fallback is a SQLite file, enough for
# `python manage.py cleanup_tokens --dry-run` with nothing else running.
if env.bool("DJANGO_REQUIRE_DATABASE_URL", default=False) and env.bool(
    "JOB_RUNNER_NEEDS_DATABASE", default=True
):
    _default_db_url = env.NOTSET
else:
    _default_db_url = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"


def _tuned(database):
    """``database`` with the per-vendor options a batch job wants (the URL's own query
    string, e.g. ``?connect_timeout=10``, wins over each of them)."""
    options = database.setdefault("OPTIONS", {})
    if database["ENGINE"] == "django.db.backends.postgresql":
        # Name the connections so that pg_stat_activity shows who holds them, and bound each
        # connection attempt: the runner retries (JOB_DB_WAIT_SECONDS) rather than hang.
        options.setdefault(
            "application_name", env.str("JOB_APPLICATION_NAME", default="django-jobs")
        )
        options.setdefault("connect_timeout", 5)
        if not options.get("server_side_binding"):
            # Django binds parameters client-side, so no statement is ever prepared; but
            # psycopg still counts the last 100 query texts, literals included. For a batch job
            # writing 5,000-row statements that holds megabytes for nothing.
            options.setdefault("prepare_threshold", None)
    elif database["ENGINE"] == "django.db.backends.mysql":
        # MariaDB and MySQL through mysqlclient, as Django's notes recommend:
        # https://docs.djangoproject.com/en/5.2/ref/databases/#mysql-notes
        # utf8mb4 (MySQL's "utf8" holds no emoji); READ COMMITTED, which Django defaults to
        # and recommends over InnoDB's REPEATABLE READ (no gap locks on a batch's ranges); a
        # bounded connection attempt, as on PostgreSQL. Strict mode is the servers' default
        # (MariaDB 10.2.4+, MySQL 5.7+); `manage.py check` warns (mysql.W002) when it is off.
        options.setdefault("charset", "utf8mb4")
        options.setdefault("isolation_level", "read committed")
        options.setdefault("connect_timeout", 5)
    return database


DATABASES = {"default": _tuned(env.database_url("DATABASE_URL", default=_default_db_url))}

# The control connection (overlap lock and run records) is "default" unless
# JOB_CONTROL_DATABASE_URL is set: it must reach the server directly, not through a
# transaction-mode pooler (PgBouncer, ProxySQL) that would drop the session's lock.
if env.str("JOB_CONTROL_DATABASE_URL", default=""):
    DATABASES["job_control"] = {
        **_tuned(env.database_url("JOB_CONTROL_DATABASE_URL", default=env.NOTSET)),
        "TEST": {"MIRROR": "default"},
    }
    JOB_CONTROL_DATABASE = "job_control"

# Replicas of the default database whose lag --max-lag reads on each, on MariaDB and MySQL
# (SHOW REPLICA STATUS; PostgreSQL reads its replicas' lag on the primary and needs none):
# JOB_REPLICA_DATABASE_URLS, comma-separated, become the aliases replica_1, replica_2, ...
JOB_REPLICA_DATABASES = []
for _number, _replica in enumerate(env.database_urls("JOB_REPLICA_DATABASE_URLS"), start=1):
    DATABASES[f"replica_{_number}"] = {**_tuned(_replica), "TEST": {"MIRROR": "default"}}
    JOB_REPLICA_DATABASES.append(f"replica_{_number}")

# ------------------------------------------------------------------------------
# E-mail: the daily report (send_daily_report)
# ------------------------------------------------------------------------------
# EMAIL_URL: smtp://USER:PASSWORD@HOST:25, smtp+tls://... (port 587) or smtp+ssl://... (465).
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
# Seconds to wait on the mail server before the report job gives up (exit 75, then resumes).
EMAIL_TIMEOUT = env.seconds("EMAIL_TIMEOUT") or 30.0
DEFAULT_FROM_EMAIL = env.email_address("DEFAULT_FROM_EMAIL", default="reports@localhost")
# Who gets send_daily_report's mail, comma-separated; none: the job has nothing to send.
DAILY_REPORT_TO = env.email_addresses("DAILY_REPORT_TO")

# ------------------------------------------------------------------------------
# The job framework (its settings and defaults: jobs/batch_jobs/conf.py, and the README)
# ------------------------------------------------------------------------------
# Commands besides the jobs that `job` may run. Destructive or interactive ones (flush,
# shell, dbshell, sqlflush, loaddata, ...) stay refused unless added through
# JOB_ALLOWED_COMMANDS (comma-separated, added to this list).
JOB_ALLOWED_COMMANDS = [
    "migrate",
    "check",
    "showmigrations",
    "clearsessions",
    *env.list("JOB_ALLOWED_COMMANDS", default=[]),
]
# Backward migrations and `migrate --fake`/`--fake-initial`/`--prune` through the runner:
# refused (exit 64) unless JOB_ALLOW_DESTRUCTIVE=1 for the one run that means it.
JOB_ALLOW_DESTRUCTIVE = env.bool("JOB_ALLOW_DESTRUCTIVE", default=False)
# What `jobctl render` names the manifests, units and Secret after.
JOB_APP_NAME = "django-jobs"
# Each of these is the framework's default unless the environment sets it.
JOB_DB_WAIT_SECONDS = env.seconds("JOB_DB_WAIT_SECONDS")
JOB_DB_TIMEOUT = env.seconds("JOB_DB_TIMEOUT")
JOB_PROGRESS_INTERVAL = env.seconds("JOB_PROGRESS_INTERVAL")
JOB_MONITOR_TIMEOUT = env.seconds("JOB_MONITOR_TIMEOUT")
JOB_PING_URL = env.str("JOB_PING_URL", default=None)
JOB_PUSHGATEWAY_URL = env.str("JOB_PUSHGATEWAY_URL", default=None)
JOB_SENTRY_DSN = env.str("SENTRY_DSN", default=None)
JOB_LOCK_NAMESPACE = env.str("JOB_LOCK_NAMESPACE", default=None)
JOB_LOG_FORMAT = env.str("JOB_LOG_FORMAT", default="") or None
JOB_OUTPUT_LINES = env.int("JOB_OUTPUT_LINES", default=None)

# ------------------------------------------------------------------------------
# Logging: stdout/stderr only, no files (the container runtime collects them).
# ------------------------------------------------------------------------------
# Job events (start, progress, finish) are one JSON object per line when stderr is not a
# terminal or JOB_LOG_FORMAT=json, and readable lines on a terminal (JOB_LOG_FORMAT=text).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"job": {"()": "batch_jobs.framework.logs.JobLogFormatter"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "job"},
        # A run's events go where the run writes: stderr from the command line, the stream
        # of call_command(stderr=...), else nowhere (a test's call_command stays quiet).
        "job_events": {"class": "batch_jobs.framework.logs.JobLogHandler", "formatter": "job"},
    },
    "loggers": {
        "batch_jobs": {
            "handlers": ["job_events"],
            "level": env.log_level("JOB_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
    },
    "root": {"handlers": ["stderr"], "level": env.log_level("DJANGO_LOG_LEVEL", default="WARNING")},
}
