"""Jobs on a real (pseudo-)terminal: a progress bar when it has a size, readable log lines."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from batch_jobs.models import JobRun
from tests.support.sessions import database_url

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SLOW_BATCHES = ["slow_batches", "--batches", "4", "--size", "5", "--sleep", "0.1"]


def run_on_a_terminal(*args, columns):
    """Run ``job *args`` with stderr on a pseudo-terminal ``columns`` wide (0: never sized);
    return the exit code and what the terminal showed."""
    url = database_url()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_EXTRA_APPS": "tests.testjobs",
        "JOB_PROGRESS_INTERVAL": "0",
    }
    env.pop("JOB_LOG_FORMAT", None)
    primary, secondary = pty.openpty()
    if columns:
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    job = Path(sys.executable).with_name("job")
    process = subprocess.Popen([job, *args], stdout=subprocess.DEVNULL, stderr=secondary, env=env)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the job closed its side
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    return process.wait(timeout=60), shown.decode()


def test_a_sized_terminal_gets_a_progress_bar_and_text_logs():
    code, shown = run_on_a_terminal(*SLOW_BATCHES, columns=100)
    assert code == 0, shown
    assert "100%|" in shown and "| 20/20 [" in shown  # tqdm's bar, drawn to the end
    assert "]: progress " not in shown  # the bar replaces the progress events
    assert '"event"' not in shown  # text, not JSON
    assert "succeeded with exit code 0" in shown
    assert JobRun.objects.get(job="slow_batches").counters == {"batches": 4, "rows": 20}


def test_a_terminal_without_a_size_gets_progress_lines():
    code, shown = run_on_a_terminal(*SLOW_BATCHES, columns=0)
    assert code == 0, shown
    assert "100%|" not in shown
    assert shown.count("]: progress ") == 4, shown
    assert "done=20 rate=" in shown
