"""Every configuration error is 78 with one line, and secret files are bounded and strict
(issue 19): the example project's environment and the framework's own settings, through the
`job` console script."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.env import SECRET_FILE_LIMIT
from tests.support.boundary import assert_contract, last_line
from tests.support.reliability import FULL
from tests.support.scripts import ROOT, run

CONFIG = "job: error: configuration error: "


def listing(**env):
    """`job --list`: it reads and checks every setting, and needs no database."""
    return run("job", "--list", env=env)


def assert_78(result, *fragments):
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={78})
    assert len(result.stderr_lines) == 1, result.stderr
    line = last_line(result.stderr)
    assert line.startswith(CONFIG), line
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("JOB_LOG_LEVEL", "LOUD", "JOB_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
        ("DJANGO_LOG_LEVEL", "10", "DJANGO_LOG_LEVEL must be DEBUG, INFO"),
        ("DJANGO_TIME_ZONE", "Mars/Base", "DJANGO_TIME_ZONE must be an IANA time zone name"),
        ("DJANGO_TIME_ZONE", "../etc/passwd", "DJANGO_TIME_ZONE must be an IANA time zone name"),
        ("DJANGO_EXTRA_APPS", "nosuchapp", "DJANGO_EXTRA_APPS names 'nosuchapp', which is not"),
        ("DJANGO_EXTRA_APPS", "a..b", "DJANGO_EXTRA_APPS names 'a..b', which is not"),
        ("EMAIL_URL", "smtp://mail.example.com:port", "EMAIL_URL is malformed"),
        ("EMAIL_URL", "mail.example.com", "EMAIL_URL is malformed"),
        ("EMAIL_URL", "smtp://", "EMAIL_URL is malformed"),
        ("JOB_DB_TIMEOUT", "1e12", "JOB_DB_TIMEOUT must be at most 9223372036 seconds"),
        ("JOB_DB_WAIT_SECONDS", "inf", "JOB_DB_WAIT_SECONDS must be at most"),
        ("EMAIL_TIMEOUT", "1e400", "EMAIL_TIMEOUT must be at most"),
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be 1/true/yes/on or 0/false/no/off"),
        ("DAILY_REPORT_TO", "not-an-email<script>", "DAILY_REPORT_TO must hold e-mail addresses"),
        ("DEFAULT_FROM_EMAIL", "reports", "DEFAULT_FROM_EMAIL must hold e-mail addresses"),
    ],
)
def test_job_log_level_loud_and_every_bad_variable_is_78_in_one_line(variable, value, message):
    assert_78(listing(**{variable: value}), message)


def test_an_email_url_password_is_not_shown_when_it_is_malformed():
    line = assert_78(listing(EMAIL_URL="smtp://mailer:S3cretPass@mail.example.com:port"))
    assert "S3cretPass" not in line


@pytest.mark.postgresql
def test_job_db_timeout_1e12_is_refused_before_the_run_not_lost_in_the_watchdog(postgres):
    from tests.support.docker import create_database

    url = create_database(postgres, "security_config")[1]
    result = run(
        "job", "cleanup_tokens", "--dry-run", database_url=url, env={"JOB_DB_TIMEOUT": "1e12"}
    )
    assert_78(result, "JOB_DB_TIMEOUT must be at most")
    fine = run(
        "job", "cleanup_tokens", "--dry-run", database_url=url, env={"JOB_DB_TIMEOUT": "9e9"}
    )
    assert fine.exit_code in (0, 78), fine.stderr  # 78: this database is not migrated
    assert "Traceback" not in fine.stderr and "OverflowError" not in fine.stderr


def test_a_too_long_max_runtime_is_a_bad_argument():
    result = run("job", "cleanup_tokens", "--max-runtime", "1e12")
    assert result.exit_code == 2
    assert "--max-runtime: must be at most 9223372036, not '1e12'" in result.stderr
    nan = run("job", "cleanup_tokens", "--max-runtime", "nan")
    assert nan.exit_code == 2 and "must be a positive number of seconds" in nan.stderr


def test_an_installed_app_that_does_not_import_is_78_in_any_project(tmp_path):
    """The framework's side: INSTALLED_APPS set in the settings module, not the environment."""
    (tmp_path / "broken_settings.py").write_text(
        "from app.settings import *  # noqa\nINSTALLED_APPS = [*INSTALLED_APPS, 'nosuchapp']\n"
    )
    result = run(
        "job",
        "--list",
        env={"DJANGO_SETTINGS_MODULE": "broken_settings", "PYTHONPATH": f"{tmp_path}:{ROOT}"},
    )
    assert_78(result, "INSTALLED_APPS names 'nosuchapp', which cannot be imported")


def test_job_allow_destructive_is_a_setting_with_a_check():
    assert_78(listing(JOB_ALLOW_DESTRUCTIVE="sometimes"), "JOB_ALLOW_DESTRUCTIVE must be")


# -- secret files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "DATABASE_URL_FILE points to '/dev/zero', which holds more than 64 KiB"),
        (b"x" * (SECRET_FILE_LIMIT + 1), "which holds more than 64 KiB"),
        (b"postgres://u:\xff\xfepw@db/x\n", "which is not UTF-8 text"),
        (b"postgres://u:pw\x00@db/x\n", "which holds a NUL byte"),
    ],
    ids=["/dev/zero", "a huge file", "not UTF-8", "a NUL byte"],
)
def test_database_url_file_dev_zero_a_huge_file_and_non_utf8_are_78(tmp_path, content, message):
    path = "/dev/zero"
    if content is not None:
        path = tmp_path / "secret"
        path.write_bytes(content)
    result = listing(DATABASE_URL_FILE=str(path))
    line = assert_78(result, message)
    assert "pw" not in line


def test_a_secret_file_at_the_limit_is_read_whole(tmp_path):
    key = "k" * (SECRET_FILE_LIMIT - 1) + "\n"
    (tmp_path / "key").write_text(key)
    # Local development: the key's strength is not what this test is about.
    result = listing(DJANGO_SECRET_KEY_FILE=str(tmp_path / "key"), DJANGO_LOCAL_DEVELOPMENT="1")
    assert result.exit_code == 0, result.stderr


def test_a_directory_as_a_secret_file_is_78(tmp_path):
    assert_78(listing(DATABASE_URL_FILE=str(tmp_path)), "which cannot be read")


# -- properties: any value of any variable, any content of a secret file --------------------

#: Every variable the example project reads (README, docs/reference/example-project.md).
VARIABLES = [
    "DATABASE_URL",
    "JOB_CONTROL_DATABASE_URL",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_TIME_ZONE",
    "DJANGO_EXTRA_APPS",
    "DJANGO_SECURE_COOKIES",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_REQUIRE_DATABASE_URL",
    "EMAIL_URL",
    "EMAIL_TIMEOUT",
    "DEFAULT_FROM_EMAIL",
    "DAILY_REPORT_TO",
    "JOB_ALLOWED_COMMANDS",
    "JOB_ALLOW_DESTRUCTIVE",
    "JOB_DB_WAIT_SECONDS",
    "JOB_DB_TIMEOUT",
    "JOB_PROGRESS_INTERVAL",
    "JOB_MONITOR_TIMEOUT",
    "JOB_PING_URL",
    "JOB_PUSHGATEWAY_URL",
    "SENTRY_DSN",
    "JOB_LOCK_NAMESPACE",
    "JOB_LOG_FORMAT",
    "JOB_LOG_LEVEL",
    "DJANGO_LOG_LEVEL",
    "JOB_APPLICATION_NAME",
]

# What an environment variable can hold: text without NUL, encodable to the OS.
ENV_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=80
)
# Values near each variable's grammar, where the edges are.
NEAR = st.sampled_from(
    [
        "",
        " ",
        "1",
        "0",
        "-1",
        "1e12",
        "nan",
        "inf",
        "9223372037",
        "true",
        "INFO",
        "Europe/Paris",
        "smtp://u:p@h:25",
        "smtp+ssl://h",
        "postgres://u:p@h:5432/n",
        "postgres://u:p@h:99999/n",
        "sqlite:////tmp/x.sqlite3",
        "http://x",
        "https://k@sentry.example.com/1",
        "a@b.com,c",
        "store,,",
        "json",
    ]
)


@settings(
    max_examples=400 if FULL else 12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(variable=st.sampled_from(VARIABLES), value=st.one_of(NEAR, ENV_TEXT))
def test_any_value_of_any_variable_is_0_or_78_in_one_line(variable, value, report):
    result = listing(**{variable: value})
    report.add("configuration variables (hypothesis)", result.exit_code, {0, 78})
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={0, 78})
    if result.exit_code == 78:
        assert len(result.stderr_lines) == 1, result.stderr
        assert last_line(result.stderr).startswith(CONFIG)


@settings(
    max_examples=200 if FULL else 8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda n, b: b * n,
            st.sampled_from([SECRET_FILE_LIMIT, SECRET_FILE_LIMIT + 1]),
            st.sampled_from([b"a", b"\xff", b"\n"]),
        ),
        st.text(min_size=12, max_size=60).map(
            lambda t: ("key-" + t).encode("utf-8", "surrogatepass")
        ),
    )
)
def test_any_secret_file_content_is_0_or_78_and_never_shown(tmp_path_factory, content, report):
    path = tmp_path_factory.mktemp("secret") / "key"
    path.write_bytes(content)
    # Local development: the key's strength is tested in tests/security/test_console.py.
    result = listing(DJANGO_SECRET_KEY_FILE=str(path), DJANGO_LOCAL_DEVELOPMENT="1")
    report.add("_FILE contents (hypothesis)", result.exit_code, {0, 78})
    secret = content.decode("utf-8", "replace").strip()
    assert_contract(
        result.exit_code,
        result.stdout,
        result.stderr,
        allowed={0, 78},
        secrets=[secret] if len(secret) >= 12 else [],
    )
    if result.exit_code == 78:
        assert len(result.stderr_lines) == 1, result.stderr
        assert "DJANGO_SECRET_KEY_FILE" in result.stderr


#: Variables that matter only once a job runs: its connection, lock, deadline and events.
RUN_VARIABLES = [
    "JOB_APPLICATION_NAME",
    "JOB_DB_TIMEOUT",
    "JOB_DB_WAIT_SECONDS",
    "JOB_PROGRESS_INTERVAL",
    "JOB_LOCK_NAMESPACE",
    "JOB_LOG_FORMAT",
    "JOB_LOG_LEVEL",
    "DJANGO_TIME_ZONE",
]


@pytest.mark.django_db(transaction=True, databases="__all__")
@settings(
    max_examples=150 if FULL else 4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(variable=st.sampled_from(RUN_VARIABLES), value=st.one_of(NEAR, ENV_TEXT))
def test_any_value_of_a_run_variable_runs_the_job_or_is_78(variable, value, report):
    from tests.support.sessions import database_url

    result = run(
        "job", "cleanup_tokens", "--dry-run", database_url=database_url(), env={variable: value}
    )
    report.add("configuration of a run (hypothesis)", result.exit_code, {0, 78})
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={0, 78})
    if result.exit_code == 78:
        assert last_line(result.stderr).startswith(CONFIG), result.stderr


@pytest.mark.parametrize(
    ("declaration", "value", "message"),
    [
        ("db_timeout", 1e12, "db_timeout must be at most 9223372036 seconds"),
        ("max_runtime", float("inf"), "max_runtime must be zero or more seconds"),
        ("batch_time", -1, "batch_time must be zero or more seconds"),
        ("stop_grace_seconds", "60", "stop_grace_seconds must be a number"),
    ],
)
def test_a_jobs_own_durations_are_bounded_as_the_settings_are(declaration, value, message):
    """A job's `class Job:` durations: the same bounds, the same 78 (ImproperlyConfigured)."""
    from django.core.exceptions import ImproperlyConfigured

    from batch_jobs import JobCommand

    job = type("Job", (), {declaration: value})
    with pytest.raises(ImproperlyConfigured, match=f"^job [a-z_]+: {message}"):
        type("Command", (JobCommand,), {"Job": job, "__module__": __name__})
