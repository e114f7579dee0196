"""Start requests (``operations.control.request_start``): the command line checked with the
job's own parser, as the runner would, and stored for a dispatcher; secrets kept apart."""

import pytest

from batch_jobs.models import RunRequest
from batch_jobs.operations.control import Refused, request_start


@pytest.fixture(autouse=True)
def only_test_jobs(settings):
    settings.JOB_APPS = ["testjobs", "batch_jobs"]


@pytest.mark.django_db
def test_a_start_is_stored_pending_with_its_command_line():
    start = request_start("upper_items", ["--dry-run", "--batch-size", "5"], "ann")
    start.refresh_from_db()
    assert (start.action, start.job, start.requested_by) == ("start", "upper_items", "ann")
    assert start.argv == ["--dry-run", "--batch-size", "5"]
    assert start.secrets == {}
    assert start.claimed_at is None and start.handled_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("job", "argv", "message"),
    [
        ("nope", [], "unknown job 'nope'"),
        ("upper_items", ["--batch-size", "many"], "argument --batch-size"),
        ("upper_items", ["--no-such-option"], "unrecognized arguments: --no-such-option"),
        ("upper_items", ["--help"], "--help and --version print and exit"),
        ("upper_items", ["--settings=x"], "option --settings is not accepted"),
        ("upper_items", "--dry-run", "must be a list of words"),
        ("upper_items", ["a\x00b"], "argument 1 is not text"),
    ],
)
def test_what_the_runner_refuses_is_refused_and_nothing_is_stored(job, argv, message):
    with pytest.raises(Refused, match=message.replace("(", r"\(")):
        request_start(job, argv, "ann")
    assert not RunRequest.objects.exists()
