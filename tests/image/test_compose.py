"""The README's first command, end to end, in a compose project of its own."""

import subprocess
import uuid

import pytest

from tests.support.docker import ROOT

pytestmark = pytest.mark.image


@pytest.fixture
def compose():
    project = f"jobs-e2e-{uuid.uuid4().hex[:8]}"

    def run(*args, timeout=600):
        return subprocess.run(
            ["docker", "compose", "-p", project, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    try:
        yield run
    finally:
        run("down", "--volumes", "--remove-orphans", "--timeout", "5")


def test_compose_run_job_dry_run(compose):
    result = compose("run", "--rm", "job", "cleanup_tokens", "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "[dry-run] 0 candidates for deletion"


def test_compose_run_passes_the_exit_code_through(compose):
    result = compose("run", "--rm", "job", "cleanup_tokens", "--days", "x")
    assert result.returncode == 2
    assert "argument --days: invalid int value: 'x'" in result.stderr
