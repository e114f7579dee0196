"""Django settings for the job runner, read from the environment in this one place.

Every variable is documented in README.md ("Configuration"). Secrets may be given either as
``NAME`` or as ``NAME_FILE`` (a path whose content is the value, the docker-library
convention); setting both is a configuration error.
"""

from pathlib import Path

from app.env import Env, masked_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
# No default: a job that needs the key (password reset tokens, signed URLs) fails with
# ImproperlyConfigured, which the runner reports as a configuration error (exit 78).
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "app.urls"

# Apps whose management commands are jobs: every command they define may be run with
# `job <name>`. DJANGO_EXTRA_JOB_APPS adds apps installed beside the project (a package of
# your own jobs layered on the image, for example).
JOB_APPS = ["jobs", *env.list("DJANGO_EXTRA_JOB_APPS", default=[])]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "app.store",
    *JOB_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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
# Database
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# DATABASE_URL selects the database. The image sets DJANGO_REQUIRE_DATABASE_URL=1, so a
# container without it fails fast; on a laptop the fallback is a SQLite file, enough for
# `python manage.py cleanup_tokens --dry-run` with nothing else running.
if env.bool("DJANGO_REQUIRE_DATABASE_URL", default=False):
    _default_db_url = env.NOTSET
else:
    _default_db_url = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.database_url("DATABASE_URL", default=_default_db_url)}
DATABASES["default"].setdefault("OPTIONS", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Name the connections so that pg_stat_activity shows who holds them, and bound each
    # connection attempt: the runner retries (JOB_DB_WAIT_SECONDS) rather than hang.
    DATABASES["default"]["OPTIONS"].setdefault(
        "application_name", env.str("JOB_APPLICATION_NAME", default="django-jobs")
    )
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
    if not DATABASES["default"]["OPTIONS"].get("server_side_binding"):
        # Django binds parameters client-side, so no statement is ever prepared; but psycopg
        # still counts the last 100 query texts, literals included. For a batch job writing
        # 5,000-row statements that holds megabytes for nothing.
        DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", None)

# The job-control connection: overlap lock and run records, in autocommit and apart from the
# job's own transactions. It must reach PostgreSQL directly, not through a transaction-mode
# pooler (PgBouncer) that would drop the session advisory lock: point
# JOB_CONTROL_DATABASE_URL at the server itself when DATABASE_URL goes through one.
if env.str("JOB_CONTROL_DATABASE_URL", default=""):
    _control_db = env.database_url("JOB_CONTROL_DATABASE_URL", default=env.NOTSET)
else:
    _control_db = DATABASES["default"]
DATABASES["job_control"] = {**_control_db, "TEST": {"MIRROR": "default"}}

# Shown in error messages instead of the URL itself.
DATABASE_URL_MASKED = masked_url(env.str("DATABASE_URL", default=""))

# ------------------------------------------------------------------------------
# Job runner
# ------------------------------------------------------------------------------
# Commands outside JOB_APPS that `job` may run. Destructive or interactive ones (flush,
# shell, dbshell, sqlflush, loaddata, ...) stay refused unless added here or through
# JOB_ALLOWED_COMMANDS (comma-separated, added to this list).
JOB_ALLOWED_COMMANDS = [
    "migrate",
    "check",
    "showmigrations",
    "clearsessions",
    *env.list("JOB_ALLOWED_COMMANDS", default=[]),
]

# ------------------------------------------------------------------------------
# Logging: stdout/stderr only, no files (the container runtime collects them).
# ------------------------------------------------------------------------------
# Job events (start, progress, finish) are one JSON object per line when stderr is not a
# terminal or JOB_LOG_FORMAT=json, and readable lines on a terminal (JOB_LOG_FORMAT=text).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"job": {"()": "jobs.framework.logs.JobLogFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "job"}},
    "loggers": {
        "jobs": {
            "handlers": ["stderr"],
            "level": env.str("JOB_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
    },
    "root": {"handlers": ["stderr"], "level": env.str("DJANGO_LOG_LEVEL", default="WARNING")},
}

# Seconds to wait for the database before giving up with exit 69.
JOB_DB_WAIT_SECONDS = env.seconds("JOB_DB_WAIT_SECONDS", default=30.0)
# Seconds one batch (with its COMMIT) or one statement outside batches may wait on the
# database; past it the job closes its connections and exits 75. A frozen server never
# answers and never closes the connection, so only a client-side deadline ends the wait.
# 0 disables it; a job can set its own (JobCommand.db_timeout).
JOB_DB_TIMEOUT = env.seconds("JOB_DB_TIMEOUT", default=300.0)
# Seconds between progress lines when stderr is not a terminal.
JOB_PROGRESS_INTERVAL = env.seconds("JOB_PROGRESS_INTERVAL", default=10.0)
# healthchecks.io-style monitor: <url>/start at start, <url>/<exit code> at the end.
JOB_PING_URL = env.str("JOB_PING_URL", default="")
# Prefix of every overlap-lock key, so that two projects sharing a server do not collide.
JOB_LOCK_NAMESPACE = env.str("JOB_LOCK_NAMESPACE", default="django-jobs")
