"""What is redacted, and where: no secret reaches stderr, stdout, a log event, the run record,
``jobctl`` or the console, whatever shape it comes in (docs/explanation/security.md)."""

import re
import urllib.parse

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from batch_jobs.framework import redact
from batch_jobs.framework.redact import REDACTED, Secret, redact_text, safe_line
from tests.security.channels import channels, latest, leaks, run
from tests.support.boundary import assert_contract, last_line
from tests.support.http import recording_server
from tests.support.reliability import FULL

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "S3cretPass"


def test_credentials_in_an_argument_url_never_reach_the_error_text(report):
    url = f"https://alice:{SECRET}@files.example.com/orders.csv"
    answer = run("job", "import_orders", url)
    seen = channels(answer, "import_orders")
    report.add(
        "secrets: a URL argument's credentials", answer.code, {65}, lost=len(leaks(SECRET, seen))
    )
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={65}, secrets=[SECRET])
    assert leaks(SECRET, seen) == []
    record = latest("import_orders")
    assert (
        record.error
        == "cannot read https://alice:***@files.example.com/orders.csv: No such file or directory"
    )
    assert record.arguments["path"] == "https://alice:***@files.example.com/orders.csv"
    assert last_line(answer.stderr) == f"CommandError: {record.error}"
    (finish,) = [e for e in answer.events if e["event"] == "finish"]
    assert finish["error"] == record.error


@pytest.mark.image
def test_credentials_in_an_argument_url_never_reach_the_error_text_in_the_image(
    job_image, image_database, report
):
    import psycopg

    url = f"https://alice:{SECRET}@files.example.com/orders.csv"
    result = job_image.run("job", "import_orders", url)
    with psycopg.connect(image_database[1]) as db:
        stored = db.execute(
            "SELECT concat_ws(' ', arguments::text, argv::text, error) FROM batch_jobs_run"
            " WHERE job = 'import_orders' ORDER BY id DESC"
        ).fetchone()[0]
    lost = int(SECRET in result.stderr) + int(SECRET in stored)
    report.add("secrets: a URL argument's credentials (image)", result.exit_code, {65}, lost=lost)
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={65}, secrets=[SECRET])
    assert SECRET not in stored and "alice:***@files.example.com" in stored


@pytest.mark.parametrize(
    ("url", "code"),
    [
        # Not a URL at all: django-environ cannot read it (78, from the settings).
        (f"postgres//user:{SECRET}@db/x", 78),
        # A URL whose "database name" is user:password@host/x, on a socket that is not there.
        (f"postgres:///user:{SECRET}@db/x", 69),
        # The password in the query string, to a port nothing listens on.
        (f"postgres://user@127.0.0.1:9/x?password={SECRET}&sslmode=disable", 69),
        (f"postgres://user@127.0.0.1:9/x?sslmode=disable&sslpassword={SECRET}", 69),
        # Well formed, to a host that does not resolve.
        (f"postgres://user:{SECRET}@db.invalid:5432/x", 69),
        # Malformed in another way: the message quotes it.
        (f"postgres://user:{SECRET}@db:5432?password={SECRET}", 78),
    ],
)
def test_database_url_shapes_never_show_in_78_69_or_db_wait(url, code, report):
    answer = run("job", "echo_args", "x", DATABASE_URL=url, JOB_DB_WAIT_SECONDS="2")
    report.add(
        "secrets: DATABASE_URL shapes", answer.code, {code}, lost=int(SECRET in answer.stderr)
    )
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={code}, secrets=[SECRET])
    if code == 69:
        waits = [e for e in answer.events if e["event"] == "db_wait"]
        assert waits, answer.stderr  # the wait lines were there, and hid the secret too
        assert "database unreachable at " in last_line(answer.stderr)


@pytest.mark.postgresql
def test_a_database_name_that_holds_credentials_is_not_echoed_by_the_server(report):
    from django.db import connection

    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/u:{SECRET}@x"
    answer = run("job", "echo_args", "x", DATABASE_URL=url)
    report.add("secrets: a database name with credentials", answer.code, {78})
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={78}, secrets=[SECRET])
    assert "does not exist" in last_line(answer.stderr)
    assert db["PASSWORD"] not in answer.stderr  # the project's own password, by value


def test_an_option_typed_secret_is_redacted_whatever_its_name(report):
    dsn = "kafka://reader@queue.example.com/orders?key=Zq81-vvX"
    answer = run("job", "connect_with", "--dsn", dsn, "--label", "orders")
    seen = channels(answer, "connect_with")
    report.add("secrets: an option typed Secret", answer.code, {65}, lost=len(leaks(dsn, seen)))
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={65}, secrets=[dsn])
    assert leaks(dsn, seen) == []
    record = latest("connect_with")
    assert (record.arguments["dsn"], record.arguments["label"]) == (REDACTED, "orders")
    assert record.argv == ["--dsn", REDACTED, "--label", "orders"]
    assert record.error == "cannot read orders from ***"
    trying = [e for e in answer.events if e["event"] == "trying"]
    assert trying[0]["dsn"] == REDACTED and trying[0]["message"] == "trying ***"


def test_a_secret_option_given_inline_is_redacted_from_the_command_line(report):
    answer = run("job", "connect_with", "--dsn=inline-Zq81-vvX", "--label", "x")
    assert_contract(answer.code, answer.stdout, answer.stderr, {65}, secrets=["Zq81-vvX"])
    assert latest("connect_with").argv == ["--dsn=***", "--label", "x"]
    report.add("secrets: --option=SECRET", answer.code, {65})
    # Too short to be searched for in free text, but hidden where it is the option's value.
    short = run("job", "connect_with", "--label", "x", "--dsn", "q7z")
    assert short.code == 65
    record = latest("connect_with")
    assert record.argv == ["--label", "x", "--dsn", REDACTED]
    assert record.arguments["dsn"] == REDACTED


def test_a_bugs_traceback_keeps_its_lines_and_loses_its_secrets(report):
    answer = run("job", "fail_with", "1", "--message", f"postgres://u:{SECRET}@db/x\x1b[2J")
    report.add("secrets: a bug's traceback", answer.code, {1}, lost=int(SECRET in answer.stderr))
    assert answer.code == 1
    assert "Traceback (most recent call last):" in answer.stderr
    assert "RuntimeError: postgres://u:***@db/x\\x1b[2J" in answer.stderr
    assert SECRET not in answer.stderr and "\x1b" not in answer.stderr
    assert latest("fail_with").error == "RuntimeError: postgres://u:***@db/x\\x1b[2J"


@pytest.mark.parametrize("code", [1, 65])
def test_sentry_events_carry_no_secret(code, report):
    with recording_server() as (url, requests):
        dsn = url.replace("http://", "http://publickey@") + "/42"
        message = f"cannot read postgres://u:{SECRET}@db/x?password={SECRET}"
        answer = run("job", "fail_with", str(code), "--message", message, SENTRY_DSN=dsn)
        bodies = b"".join(body for _, _, body in requests).decode("utf-8", "replace")
    report.add("secrets: Sentry events", answer.code, {code}, lost=int(SECRET in bodies))
    assert answer.code == code
    assert '"type":"event"' in bodies.replace(" ", "")  # an issue was reported
    assert "postgres://u:***@db/x?password=***" in bodies
    assert SECRET not in bodies  # not in the message, the exception, nor the frames' variables


def test_a_plain_commands_error_is_redacted_too(report):
    # migrate is allowlisted but no job: its CommandError goes out through the same step.
    answer = run("job", "migrate", f"postgres://u:{SECRET}@db/x\x1b[2J")
    report.add("secrets: a plain command's error", answer.code, {1})
    assert answer.code == 1  # Django's CommandError without a returncode
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={1}, secrets=[SECRET])
    assert "No installed app with label 'postgres://u:***@db/x\\x1b[2J'" in answer.stderr


def test_a_jobs_own_messages_on_stderr_are_redacted(tmp_path, report):
    # import_orders names the rows it skips on self.stderr, quoting what it read.
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "external_id,amount,created_at\n"
        f"A1,password={SECRET},2026-01-01T00:00:00Z\n"
        "A2,1.00,2026-01-01T00:00:00Z\n"
    )
    answer = run("job", "import_orders", "--skip-invalid", str(csv))
    report.add("secrets: a job's own stderr", answer.code, {0}, lost=int(SECRET in answer.stderr))
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={0}, secrets=[SECRET])
    assert "skipping 1 invalid rows: line 2: amount 'password=***' is not a number" in (
        answer.stderr
    )


# -- properties ------------------------------------------------------------------------------

# Secrets as people choose them: letters, digits and the punctuation URL and DSN forms allow
# unescaped (no whitespace, no quote, no '@' or '&', which end a value in those forms).
SECRETS = (
    st.text(
        alphabet=st.sampled_from(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$*+%^()[]{}|/?:=#,"
        ),
        min_size=redact.MIN_SECRET_CHARS,
        max_size=40,
    )
    # A value that starts with "-" after --password reads as another option, and one that
    # starts with "/" after "user:" as a path: those two shapes stay ambiguous.
    .filter(lambda s: "***" not in s and not s.startswith(("-", "/")))
    # Letters and digits both, so that no timestamp or count in the output can look like it.
    .filter(lambda s: any(c.isalpha() for c in s) and any(c.isdigit() for c in s))
)
USERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=12)
HOSTS = st.sampled_from(
    ["db", "db.example.com", "10.0.0.5:5432", "[::1]:5432", "files.example.com"]
)
SCHEMES = st.sampled_from(
    [
        "postgres://",
        "postgresql://",
        "mysql://",
        "https://",
        "postgres//",
        "postgres:///",
        "",
        "s3://",
    ]
)
NAMES = st.sampled_from(
    [
        "password",
        "PASSWORD",
        "sslpassword",
        "db_password",
        "token",
        "api_key",
        "secret",
        "PGPASSWORD",
    ]
)


@st.composite
def hidden(draw):
    """``(secret, text)``: a secret in one of the shapes it travels in, inside some prose."""
    secret = draw(SECRETS)
    user, host, name = draw(USERS), draw(HOSTS), draw(NAMES)
    shape = draw(
        st.sampled_from(
            [
                "{scheme}{user}:{secret}@{host}/x",
                "{scheme}{user}:{secret}@{host}/x?sslmode=require",
                "{scheme}{user}@{host}/x?{name}={secret}",
                "{scheme}{host}/x?sslmode=require&{name}={secret}",
                "host={host} {name}={secret} user={user}",
                "{name}='{secret}' host={host}",
                "{name}: {secret}",
                '{{"{name}": "{secret}"}}',
                "--{name} {secret}",
                "--{name}={secret}",
                "Authorization: Bearer {secret}",
            ]
        )
    )
    if "Bearer" in shape:
        secret = re.sub(r"[^A-Za-z0-9._~+/=-]", "x", secret)
    if shape.startswith('{{"') or "'" in shape:
        secret = secret.replace("\\", "x")
    scheme = draw(SCHEMES)
    text = shape.format(scheme=scheme, user=user, secret=secret, host=host, name=name)
    before = draw(st.sampled_from(["", "cannot read ", "failed (", "DATABASE_URL=", "'"]))
    after = draw(st.sampled_from(["", ": No such file or directory", ")", "'", "; retry"]))
    text = before + text + after
    assume(secret not in text.replace(secret, "", 1))  # it shows once: as the secret
    return secret, text


@settings(max_examples=2000 if FULL else 200, deadline=None)
@given(case=hidden())
@example(case=("S3cretPass", "https://alice:S3cretPass@files.example.com/x"))
@example(case=("p@ss:w0rd", "postgres://u:p@ss:w0rd@host:5432/db"))
def test_a_secret_in_any_shape_never_survives_the_redaction_step(case):
    secret, text = case
    assert secret not in redact_text(text), text
    assert secret not in safe_line(text), text
    assert redact_text(redact_text(text)) == redact_text(text)  # it can run at every layer


@settings(max_examples=2000 if FULL else 200, deadline=None)
@given(text=st.text(max_size=300))
def test_text_without_secrets_keeps_its_words(text):
    # No '@', no ':' or '=' after a secret's name, no option of a secret name: nothing to cut.
    plain, cut = text, None
    while cut != plain:
        cut, plain = (
            plain,
            re.sub(r"(?i)[@:=]|pass|pwd|secret|token|key|credential|auth|bearer", "", plain),
        )
    assert redact_text(plain) == plain


@settings(
    max_examples=40 if FULL else 4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=hidden())
def test_a_generated_secret_never_reaches_any_channel(case, report):
    secret, text = case
    answer = run("job", "fail_with", "65", f"--message={text}")
    seen = channels(answer, "fail_with")
    found = leaks(secret, seen)
    report.add("secrets in every channel (hypothesis)", answer.code, {65}, lost=len(found))
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={65}, secrets=[secret])
    assert found == [], (text, found)
    assert REDACTED in latest("fail_with").error


def test_a_known_secret_is_cut_from_every_later_text():
    try:
        redact.keep_secret("opaque-Value-77")
        assert redact_text("token opaque-Value-77 in prose") == "token *** in prose"
        redact.keep_secret("abc")  # too short to search for in free text
        assert redact_text("abc def") == "abc def"
        assert redact.redact_argv(["--dsn", "abc", "--other=abc"]) == [
            "--dsn",
            "***",
            "--other=***",
        ]
        assert redact.redact_options({"dsn": Secret("abc")}) == {"dsn": REDACTED}
    finally:
        redact._kept.difference_update({"opaque-Value-77", "abc"})


def test_a_url_without_a_password_keeps_every_part():
    for text in [
        "postgres://db:5432/x",
        "https://example.com/users/@bob",
        "postgres://user@db/x",
        "see https://docs.example.com/a?b=c",
    ]:
        assert redact_text(text) == text
    assert urllib.parse.urlsplit(redact_text("postgres://u:pw@db:5432/x")).password == REDACTED
