"""The console scripts (``job``, ``jobctl``) run as subprocesses, as an operator runs them,
with the example project's settings (``app.settings``) and an environment of the test's own."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.docker import Result

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

#: What a test's environment starts from: no variable of the developer's or of the test run
#: that the example project reads, so that each case sets exactly what it tests.
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONHASHSEED", "VIRTUAL_ENV")


def environment(database_url=None, **env):
    """A clean environment for the example project: ``env`` values of ``None`` unset."""
    base = {k: v for k, v in os.environ.items() if k in KEPT}
    base.update(DJANGO_SETTINGS_MODULE="app.settings", JOB_LOG_FORMAT="json")
    if database_url:
        base["DATABASE_URL"] = database_url
    for key, value in env.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def run(script, *words, database_url=None, env=None, stdin=None, timeout=120, shell=None):
    """Run console script ``script`` (``job`` or ``jobctl``) with ``words`` from the
    repository's top (where ``app`` imports from); its exit code, stdout and stderr."""
    command = [str(BIN / script), *words]
    if shell is not None:  # a pipeline, for instance `job --list | head -n1`
        command = ["sh", "-c", shell.format(script=command[0])]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=environment(database_url, **(env or {})),
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    text = lambda raw: raw.decode("utf-8", "replace")  # noqa: E731
    return Result(done.returncode, text(done.stdout), text(done.stderr))
