"""Bounded and printable values: what a run records and what jobctl and the console show of it
is cut to a documented bound with a visible marker, control characters are escaped on a
terminal and in text log lines, and a command line that is not text is refused, and recorded
(docs/explanation/security.md)."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_jobs.framework.redact import SHOWN_CHARS, STORED_CHARS, TRUNCATED, safe_line, shown
from batch_jobs.models import JobPause, JobRun
from tests.security.channels import latest, run
from tests.support.boundary import CONTROL, assert_contract, last_line
from tests.support.reliability import FULL

pytestmark = pytest.mark.django_db(transaction=True)

LONG = 102_400  # 100 kB
MARKER = TRUNCATED.format(length=LONG)


def test_a_100_kB_argument_is_stored_and_shown_bounded(admin_client, report):
    answer = run("job", "fail_with", "65", "--message", "x" * LONG)
    record = latest("fail_with")
    report.add("values: a 100 kB argument", answer.code, {65})
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={65})
    for value in (record.error, record.arguments["message"], record.argv[2]):
        assert len(value) == STORED_CHARS and value.endswith(MARKER)
    assert len(last_line(answer.stderr)) <= STORED_CHARS + len("CommandError: ")
    (start,) = [e for e in answer.events if e["event"] == "start"]
    assert start["arguments"]["message"].endswith(MARKER)

    history = run("jobctl", "history")
    assert history.code == 0, history.stderr
    assert all(len(line) < 12 * SHOWN_CHARS for line in history.stdout.splitlines())
    assert "[truncated, " in history.stdout

    page = admin_client.get(reverse("admin:batch_jobs_job", args=["fail_with"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "x" * (STORED_CHARS + 1) not in html and MARKER in html


def test_a_newline_in_an_argument_cannot_fake_history_rows(report):
    fake = "a\n999  echo_args  succeeded (faked)  0"
    answer = run("job", "echo_args", fake)
    assert answer.code == 0, answer.stderr
    history = run("jobctl", "history", "echo_args")
    report.add("values: a newline in an argument", history.code, {0})
    assert_contract(history.code, history.stdout, history.stderr, allowed={0})
    lines = history.stdout.splitlines()
    assert len(lines) == 2, history.stdout  # the header and the one run
    assert "words=['a\\n999  echo_args" in lines[1]
    assert latest("echo_args").argv == [fake]  # recorded as given: a retry reruns it as it was


def test_ansi_escapes_in_recorded_values_never_reach_a_terminal(report):
    hostile = "\x1b[31mred\x1b]0;pwned\x07 \x9b2J \u202eevil"
    answer = run("job", "fail_with", "65", "--message", hostile, JOB_LOG_FORMAT="text")
    report.add("values: terminal escapes in values", answer.code, {65})
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={65})
    assert latest("fail_with").error == "\\x1b[31mred\\x1b]0;pwned\\x07 \\x9b2J \\u202eevil"

    # jobctl refuses such a name (2); a record another writer left may still hold one.
    refused = run("jobctl", "pause", "fail_with", "--by", "\x1b[2Jmallory")
    assert_contract(refused.code, refused.stdout, refused.stderr, allowed={2})
    JobPause.objects.create(job="fail_with", paused_by="\x1b[2Jmallory")
    for words in (["history"], ["describe", "fail_with"]):
        shown_ = run("jobctl", *words)
        assert_contract(shown_.code, shown_.stdout, shown_.stderr, allowed={0})
    assert "paused: yes, by \\x1b[2Jmallory at " in shown_.stdout
    skipped = run("job", "fail_with", "65", JOB_LOG_FORMAT="text")
    assert_contract(skipped.code, skipped.stdout, skipped.stderr, allowed={0})
    assert "(by \\x1b[2Jmallory, " in skipped.stderr


def test_invalid_utf8_argv_is_refused_with_2_and_still_recorded(report):
    answer = run("job", "echo_args", "ok", b"caf\xe9 \xff")
    report.add("values: argv not UTF-8", answer.code, {2})
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={2})
    reason = (
        "argument 2 is not valid UTF-8 text (caf\\xe9 \\xff); the job was not run: give its "
        "arguments as UTF-8"
    )
    assert last_line(answer.stderr) == f"CommandError: {reason}"
    record = latest("echo_args")
    assert (record.status, record.exit_code, record.error) == ("failed", 2, reason)
    assert record.arguments == {"argv": ["ok", "caf\\xe9 \\xff"]} and record.argv is None
    (finish,) = [e for e in answer.events if e["event"] == "finish"]
    assert (finish["run_id"], finish["exit_code"]) == (record.pk, 2)
    assert answer.stdout == ""  # the job did not run


def test_a_secret_that_is_not_text_is_refused_without_showing_it(report):
    answer = run("job", "connect_with", "--dsn", b"Zq81vv\xffX", "--label", "x")
    report.add("values: a secret not UTF-8", answer.code, {2}, lost=int("Zq81" in answer.stderr))
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={2}, secrets=["Zq81"])
    record = latest("connect_with")
    assert record.arguments == {"argv": ["--dsn", "***", "--label", "x"]}
    assert record.error.startswith("argument 2 is not valid UTF-8 text (***); ")


def test_a_job_name_that_is_not_text_is_refused_with_64():
    answer = run("job", b"echo_\xff")
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={64})
    assert len(answer.stderr.splitlines()) == 1 and "invalid job name 'echo_\\" in answer.stderr


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=2000 if FULL else 300, deadline=None)
@given(text=st.text(max_size=3000), limit=st.integers(60, 3000))
def test_a_line_for_people_is_printable_and_bounded(text, limit):
    for made in (safe_line(text, limit), shown(text, limit)):
        assert not CONTROL.search(made) and "\n" not in made
        assert len(made) <= limit


@settings(
    max_examples=30 if FULL else 3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(message=st.text(min_size=1, max_size=200).filter(lambda s: "\x00" not in s))
def test_any_text_in_an_argument_leaves_one_printable_line(message, report):
    answer = run("job", "fail_with", "65", f"--message={message}", JOB_LOG_FORMAT="text")
    report.add("values: any text in an argument (hypothesis)", answer.code, {65})
    assert_contract(answer.code, answer.stdout, answer.stderr, allowed={65})
    history = run("jobctl", "history", "fail_with")
    assert_contract(history.code, history.stdout, history.stderr, allowed={0})
    runs = JobRun.objects.filter(job="fail_with").count()
    assert len(history.stdout.splitlines()) == 1 + min(runs, 20)  # one line per run


def test_a_runs_page_shows_its_recorded_text_redacted(admin_client):
    # As 0.2 wrote records: secrets stored as given, which the upgrade leaves in the table.
    run = JobRun.objects.create(
        job="fail_with",
        status="failed",
        exit_code=65,
        error="cannot fetch https://alice:S3cretPass@files.example.com/x",
        arguments={"url": "postgres://bob:Hunter2Pass@db/x"},
        argv=["--url", "postgres://bob:Hunter2Pass@db/x"],
        stopped_by="\x1b[2Jmallory",
        lock_key="django-jobs:fail_with:url=postgres://bob:Hunter2Pass@db/x",
    )
    page = admin_client.get(reverse("admin:batch_jobs_jobrun_change", args=[run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "S3cretPass" not in html and "Hunter2Pass" not in html
    assert "\x1b" not in html and "\\x1b[2Jmallory" in html
    assert "alice:***@files.example.com" in html
