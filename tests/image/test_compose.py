"""The README's first command, end to end, in a compose project of its own."""

import subprocess

import pytest

from tests.support.compose import Compose

pytestmark = pytest.mark.image


@pytest.fixture
def compose(image):
    """``docker compose -p <a project of its own> ...``, on the image the session built."""
    project = Compose()
    try:
        yield project
    finally:
        project.down()


def test_compose_run_job_dry_run_prints_only_the_jobs_output(compose):
    result = compose("run", "--rm", "-T", "job", "cleanup_tokens", "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "[dry-run] 0 candidates for deletion\n"  # logs are on stderr
    assert '"event": "finish"' in result.stderr


def test_compose_run_passes_the_exit_code_through(compose):
    result = compose("run", "--rm", "job", "cleanup_tokens", "--days", "x")
    assert result.returncode == 2
    assert "argument --days: invalid int value: 'x'" in result.stderr


def test_stopping_the_container_of_a_compose_run_stops_the_job_gracefully(compose):
    """Compose does not forward a SIGTERM sent to the ``docker compose run`` client (2.26 exits
    130 and leaves the job running to its end), so the README's way to stop such a run is to
    stop its container: the job finishes its batch and compose exits 143."""
    seeded = compose("run", "--rm", "job", "seed_demo_data", "--users", "20000", "--orders", "1")
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    command = ["normalize_emails", "--batch-size", "500", "--throttle", "0.5"]
    walk = compose.popen("run", "--rm", "-T", "job", *command)
    try:
        for line in walk.stderr:
            if '"event": "start"' in line:
                break
        # The README's command, in this compose project.
        running = compose("ps", "-aq", "--status", "running", "job").stdout.split()
        assert len(running) == 1, running
        stop = subprocess.run(["docker", "stop", *running], capture_output=True, text=True)
        assert stop.returncode == 0, stop.stderr
        _, stderr = walk.communicate(timeout=90)
    finally:
        walk.kill()
    assert walk.returncode == 143, stderr[-3000:]
    assert stderr.splitlines()[-1] == "CommandError: stopped by SIGTERM"
