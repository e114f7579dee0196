"""Start requests (``request_start``, behind the console's Run form) with hostile and careless
command lines: what the job's own parser refuses is refused with the parser's message (one
printable line) and nothing is stored; what it accepts is run by ``jobctl worker`` as the
words themselves, never through a shell."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_jobs.models import RunRequest
from batch_jobs.operations import catalog
from batch_jobs.operations.control import Refused, request_start
from tests.ctl.test_worker import jobctl
from tests.support.boundary import CONTROL
from tests.support.reliability import FULL
from tests.support.scripts import run
from tests.support.sessions import database_url

WORDS = st.one_of(
    st.sampled_from(
        [
            "--batch-size",
            "--batch-size=0",
            "--batch-size=-5",
            "--batch-size=1e9",
            "--strategy",
            "--strategy=sql;drop table",
            "--throttle",
            "--throttle=nan",
            "--max-runtime=inf",
            "--dry-run",
            "--restart",
            "--settings=evil",
            "--pythonpath=/tmp",
            "--sett",
            "-h",
            "--version",
            "--",
            "",
            "$(touch /tmp/pwned)",
            "`id`",
            "; rm -rf /",
            "a\x00b",
            "\x1b[2J",
            "\ud800",
            "x" * 3000,
        ]
    ),
    st.text(max_size=40),
)


@pytest.mark.django_db
@settings(
    max_examples=400 if FULL else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=st.lists(WORDS, max_size=6))
def test_a_start_the_runner_would_refuse_is_refused_in_one_line_and_not_stored(argv):
    parser = catalog.get("upper_items").command.create_parser("job", "upper_items")
    before = RunRequest.objects.count()
    try:
        start = request_start("upper_items", argv, "mallory")
    except Refused as e:
        message = str(e)
        assert message and "\n" not in message and not CONTROL.search(message)
        assert len(message) <= 2000
        assert RunRequest.objects.count() == before  # nothing stored
        return
    # Accepted: the runner's parser accepts it too, and the words are stored as given.
    parser.parse_args(argv)
    assert start.argv == argv and start.action == "start"
    assert RunRequest.objects.count() == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "argv",
    [["--batch-size", "many"], ["--no-such-option"]],
)
def test_the_refusal_is_the_runners_own_message(argv):
    with pytest.raises(Refused) as refused:
        request_start("upper_items", argv, "mallory")
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings"}  # the test jobs
    runner = run("job", "upper_items", *argv, database_url=database_url(), env=env)
    assert runner.exit_code == 2
    assert str(refused.value) in runner.stderr  # the same words as `job` says


HOSTILE = [
    "$(touch {marker})",
    "`touch {marker}`",
    "; touch {marker}",
    "| touch {marker}",
    "&& touch {marker}",
    "'\"",
    "\\",
    "*",
]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_what_is_accepted_is_run_as_words_never_through_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    words = [word.format(marker=marker) for word in HOSTILE]
    start = request_start("echo_args", ["--", *words], "mallory")
    assert jobctl("worker", "--drain").returncode == 0
    start.refresh_from_db()
    printed = [line for stream, line in start.started_run.output["lines"] if stream == "stdout"]
    assert [json.loads(line) for line in printed] == words  # each word arrived as it was
    assert not marker.exists()
