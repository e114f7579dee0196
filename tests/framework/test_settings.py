"""The framework's settings: defaults, system checks, one-line exit 78 at the runner."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

import batch_jobs
from batch_jobs import conf

ROOT = Path(__file__).resolve().parents[2]
JOB = Path(sys.executable).with_name("job")


def test_a_project_that_sets_nothing_gets_the_defaults(settings):
    for name in conf.DEFAULTS:
        if hasattr(settings, name):
            delattr(settings, name)
    conf._values.cache_clear()  # Django sends no setting_changed for a deleted setting
    assert conf.setting("JOB_DB_TIMEOUT") == 300.0
    assert conf.setting("JOB_CONTROL_DATABASE") is None
    assert conf.setting("JOB_ALLOWED_COMMANDS") == (
        "migrate",
        "check",
        "showmigrations",
        "clearsessions",
    )
    assert conf.setting("JOB_APP_NAME") == "tests"  # from DJANGO_SETTINGS_MODULE
    assert conf.problems() == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JOB_DB_TIMEOUT", -1, "JOB_DB_TIMEOUT must be zero or more seconds, not -1"),
        ("JOB_DB_WAIT_SECONDS", "30", "JOB_DB_WAIT_SECONDS must be a number of seconds"),
        ("JOB_CONTROL_DATABASE", "nope", "'nope', which is not a key of DATABASES"),
        ("JOB_APPS", ["store", "missing"], "JOB_APPS names 'missing', which is not installed"),
        ("JOB_APPS", "store", "JOB_APPS must be a list of app names"),
        ("JOB_LOG_FORMAT", "xml", "JOB_LOG_FORMAT must be auto, json or text, not 'xml'"),
        ("JOB_PING_URL", "ftp://x", "JOB_PING_URL must be an http(s) URL"),
        ("JOB_IMAGE_UID", 0, "JOB_IMAGE_UID must be a user id above 0 (not root)"),
        ("JOB_APP_NAME", "My App", "JOB_APP_NAME must be a DNS label"),
        ("JOB_PUSHGATEWAY_URL", "pushgw:9091", "JOB_PUSHGATEWAY_URL must be an http(s) URL"),
        ("JOB_SENTRY_DSN", "https://sentry.io/1", "JOB_SENTRY_DSN must be a Sentry DSN"),
        ("JOB_SENTRY_ISSUE_EXIT_CODES", 1, "JOB_SENTRY_ISSUE_EXIT_CODES must be a list"),
        ("JOB_MONITOR_TIMEOUT", -0.5, "JOB_MONITOR_TIMEOUT must be zero or more seconds"),
    ],
)
def test_a_bad_value_is_a_system_check_error_and_a_configuration_error(
    settings, name, value, message
):
    setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=re.escape(message)) as excinfo:
        call_command("check")
    assert "batch_jobs.E0" in str(excinfo.value)
    with pytest.raises(Exception, match=re.escape(message)) as excinfo:
        conf.setting("JOB_DB_TIMEOUT")
    assert type(excinfo.value).__name__ == "ImproperlyConfigured"


#: The system check id of each setting, as released: a project's SILENCED_SYSTEM_CHECKS may
#: name any of them, so none may change, and a new setting takes an id never used before.
CHECK_IDS = {
    "JOB_APPS": "batch_jobs.E001",
    "JOB_ALLOWED_COMMANDS": "batch_jobs.E002",
    "JOB_CONTROL_DATABASE": "batch_jobs.E003",
    "JOB_DB_WAIT_SECONDS": "batch_jobs.E004",
    "JOB_DB_TIMEOUT": "batch_jobs.E005",
    "JOB_PROGRESS_INTERVAL": "batch_jobs.E006",
    "JOB_PING_URL": "batch_jobs.E007",
    "JOB_PUSHGATEWAY_URL": "batch_jobs.E008",
    "JOB_SENTRY_DSN": "batch_jobs.E009",
    "JOB_SENTRY_CHECKIN_MARGIN": "batch_jobs.E010",
    "JOB_SENTRY_ISSUE_EXIT_CODES": "batch_jobs.E011",
    "JOB_MONITOR_TIMEOUT": "batch_jobs.E012",
    "JOB_LOCK_NAMESPACE": "batch_jobs.E013",
    "JOB_LOG_FORMAT": "batch_jobs.E014",
    "JOB_APP_NAME": "batch_jobs.E015",
    "JOB_IMAGE_UID": "batch_jobs.E016",
    "JOB_HEALTH_CHECKS": "batch_jobs.E017",
    "JOB_ALLOW_DESTRUCTIVE": "batch_jobs.E018",
    "JOB_REPLICA_DATABASES": "batch_jobs.E019",
    "JOB_OUTPUT_LINES": "batch_jobs.E020",
    "JOB_TASKS_BACKEND": "batch_jobs.E021",
    "JOB_UPLOAD_STORAGE": "batch_jobs.E022",
    "JOB_UPLOAD_RETENTION": "batch_jobs.E023",
    "JOB_UPLOAD_MAX_SIZE": "batch_jobs.E024",
}


def test_every_setting_keeps_its_own_fixed_check_id():
    ids = {s.name: s.id for s in conf.SETTINGS}
    # A setting added since: give it the next free id and add it here.
    assert {name: ids[name] for name in CHECK_IDS} == CHECK_IDS
    assert len(set(ids.values())) == len(ids), "two settings share a check id"
    assert all(re.fullmatch(r"batch_jobs\.E\d{3}", i) for i in ids.values()), ids
    assert set(ids) == set(conf.DEFAULTS) and len(ids) == len(conf.SETTINGS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOB_APPS", ["missing"]),
        ("JOB_CONTROL_DATABASE", "nope"),
        ("JOB_MONITOR_TIMEOUT", -1),
        ("JOB_LOCK_NAMESPACE", ""),
        ("JOB_HEALTH_CHECKS", ["no.such.check"]),
        ("JOB_REPLICA_DATABASES", ["default", "no-such-alias"]),
        ("JOB_OUTPUT_LINES", -1),
        ("JOB_TASKS_BACKEND", "no-such-backend"),
        ("JOB_UPLOAD_STORAGE", "no-such-storage"),
        ("JOB_UPLOAD_RETENTION", 0),
        ("JOB_UPLOAD_MAX_SIZE", "50M"),
    ],
)
def test_a_bad_value_is_reported_under_its_settings_id(settings, name, value):
    setattr(settings, name, value)
    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check")
    reported = re.findall(r"\((batch_jobs\.E\d{3})\)", str(excinfo.value))
    assert reported == [CHECK_IDS[name]]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JOB_ALLOWED_COMMANDS", 5, "JOB_ALLOWED_COMMANDS must be a list, not 5"),
        ("JOB_HEALTH_CHECKS", 5, "JOB_HEALTH_CHECKS must be a list of dotted paths, not 5"),
        ("JOB_APPS", 5, "JOB_APPS must be a list of app names, not 5"),
        (
            "JOB_REPLICA_DATABASES",
            "replica",
            "JOB_REPLICA_DATABASES must be a list of keys of DATABASES, not 'replica'",
        ),
        (
            "JOB_SENTRY_CHECKIN_MARGIN",
            True,
            "JOB_SENTRY_CHECKIN_MARGIN must be a whole number of minutes, 1 or more, not True",
        ),
    ],
)
def test_a_value_of_the_wrong_shape_is_one_message_not_a_crash(settings, name, value, message):
    setattr(settings, name, value)
    assert conf.problems() == [(name, message)]


def run_the_runner(*args, **env):
    environment = {**os.environ, **env}
    for key in [k for k, v in env.items() if v is None]:
        environment.pop(key)
    return subprocess.run([JOB, *args], capture_output=True, text=True, env=environment)


def test_the_runner_exits_78_with_one_line_on_a_bad_setting(tmp_path):
    (tmp_path / "bad_settings.py").write_text(
        "from tests.settings import *  # noqa\nJOB_DB_TIMEOUT = 'soon'\n"
    )
    result = run_the_runner(
        "echo_args",
        "x",
        DJANGO_SETTINGS_MODULE="bad_settings",
        PYTHONPATH=f"{tmp_path}:{ROOT}",
    )
    assert result.returncode == 78
    assert result.stderr == (
        "job: error: configuration error: JOB_DB_TIMEOUT must be a number of seconds, not 'soon'\n"
    )


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (None, "DJANGO_SETTINGS_MODULE is not set; export it as your project's settings module"),
        ("no_such.settings", "cannot import settings module 'no_such.settings'"),
    ],
)
def test_the_console_scripts_need_the_settings_module(module, message):
    for script in ("job", "jobctl"):
        words = ["echo_args"] if script == "job" else ["list"]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": module or ""}
        if module is None:
            env.pop("DJANGO_SETTINGS_MODULE")
        result = subprocess.run(
            [JOB.with_name(script), *words], capture_output=True, text=True, env=env
        )
        assert result.returncode == 78, (script, result.stderr)
        assert message in result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_nothing_under_jobs_imports_the_example_project():
    offenders = []
    for path in Path(batch_jobs.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders += [f"{path}: {n}" for n in names if n == "app" or n.startswith("app.")]
    assert offenders == []


def test_the_public_surface_resolves():
    for name in batch_jobs.__all__:
        assert getattr(batch_jobs, name) is not None, name
    assert batch_jobs.JobCommand.__module__ == "batch_jobs.framework.command"
