"""Every output channel of a run, read from real processes: ``job`` and ``jobctl`` as
subprocesses on the test database, their stdout and stderr, the JSON events, the run record
and ``jobctl history``/``describe``."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from batch_jobs.models import JobRun
from tests.support.sessions import database_url

BIN = Path(sys.executable).parent


def environment(**env):
    merged = {**os.environ, "DATABASE_URL": database_url(), "JOB_LOG_FORMAT": "json", **env}
    return {k: v for k, v in merged.items() if v is not None}


def run(script, *words, **env):
    """``script words...`` (``job`` or ``jobctl``); words may be bytes (argv not UTF-8)."""
    result = subprocess.run(
        [BIN / script, *words], capture_output=True, env=environment(**env), timeout=120
    )
    return Answer(
        result.returncode,
        result.stdout.decode("utf-8", "backslashreplace"),
        result.stderr.decode("utf-8", "backslashreplace"),
    )


@dataclasses.dataclass
class Answer:
    code: int
    stdout: str
    stderr: str

    @property
    def events(self):
        """The JSON log events on stderr."""
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]


def latest(job):
    return JobRun.objects.filter(job=job).order_by("-pk").first()


def record_text(run):
    """Every field of a run record a person or a program may read, as one text."""
    if run is None:
        return ""
    fields = [run.job, run.error, run.host, run.lock_key, run.stopped_by or ""]
    texts = [json.dumps(value, ensure_ascii=False) for value in (run.arguments, run.argv)]
    # The last lines it printed (JobRun.output), as the console and `jobctl output` show them.
    texts += [line for _, line in (run.output or {}).get("lines", [])]
    return "\n".join([*fields, *texts])


def channels(answer, job, **env):
    """What a person or a program may see of the run ``answer`` is from: its streams, the
    newest record of ``job``, and ``jobctl history`` and ``describe`` of the job."""
    history = run("jobctl", "history", job, **env)
    describe = run("jobctl", "describe", job, **env)
    return {
        "stdout": answer.stdout,
        "stderr": answer.stderr,
        "record": record_text(latest(job)),
        "jobctl history": history.stdout + history.stderr,
        "jobctl describe": describe.stdout + describe.stderr,
    }


def leaks(secret, seen):
    """The channels of ``seen`` that show ``secret``."""
    return [name for name, text in seen.items() if secret in text]
