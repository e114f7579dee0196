"""A closed standard output ends quietly with 141, and a job's record says so (issue 19):
`job --list | head -n1`, a job whose reader goes away mid-run, and the same inside the image."""

import subprocess

import pytest

from batch_jobs.exitcodes import ExitCode
from batch_jobs.models import JobRun
from tests.support.boundary import last_line
from tests.support.scripts import BIN, ROOT, environment, run
from tests.support.sessions import database_url

CLOSED = int(ExitCode.OUTPUT_CLOSED)
REASON = "standard output closed: its reader went away"


def test_job_list_piped_to_head_n1_ends_quietly():
    result = run("job", shell="{script} --list | head -n1")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


def test_job_list_whose_reader_has_gone_exits_141_with_nothing_on_stderr():
    # `true` reads nothing and exits: every write of `job --list` meets a closed pipe.
    result = run("job", shell='({script} --list; echo "job=$?" >&2) | true')
    assert result.stderr == f"job={CLOSED}\n"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_job_whose_stdout_closes_is_recorded_interrupted_with_141_and_keeps_its_batches():
    from tests.testjobs.models import Item

    process = subprocess.Popen(
        [str(BIN / "job"), "slow_batches", "--batches", "40", "--size", "3", "--sleep", "0.1"],
        cwd=ROOT,
        env=environment(database_url(), DJANGO_EXTRA_APPS="tests.testjobs"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for _ in range(2):
        assert process.stdout.readline().startswith(b"batch ")
    process.stdout.close()  # the reader goes away mid-run
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == CLOSED, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert last_line(stderr) == f"CommandError: {REASON}"
    record = JobRun.objects.get(job="slow_batches")
    assert (record.status, record.exit_code, record.error) == ("interrupted", CLOSED, REASON)
    batches = record.counters.get("batches", 0)
    assert 2 <= batches < 40
    # The batches committed before stay; the one whose write failed rolled back whole.
    assert Item.objects.count() == batches * 3


def test_manage_py_whose_reader_has_gone_exits_141_quietly():
    result = run(
        "job",
        shell='(python manage.py help; echo "manage=$?" >&2) | true',
        env={"PATH": f"{BIN}:/usr/bin:/bin"},
    )
    assert result.stderr == f"manage={CLOSED}\n"


@pytest.mark.image
def test_job_list_piped_to_head_n1_inside_the_image(job_image):
    result = job_image.run("sh", "-c", "job --list | head -n1")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    gone = job_image.run("sh", "-c", '(job --list; echo "job=$?" >&2) | true')
    assert gone.stderr == f"job={CLOSED}\n"
