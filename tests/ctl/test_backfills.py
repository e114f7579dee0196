"""``jobctl backfills`` and ``jobctl render kubernetes --backfills``: every migration gate with
its backfill's state and the exit code a deploy pipeline waits on.

The gate is ``tests/gated/gates/0002_require_slugs`` (``RequireJob("fill_slugs")``), pending:
the test database was made from ``tests/gated/migrations`` alone. Each state comes from real
runs of the real backfill job (``tests/gated/management/commands/fill_slugs.py``), in-process
or as a process. On PostgreSQL here, and on SQLite and MariaDB in their lanes
(``TEST_DATABASE_URL=sqlite:////tmp/x.sqlite3 pytest tests/ctl/test_backfills.py``)."""

import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from batch_jobs.cli.jobctl import cli
from batch_jobs.models import JobRun
from batch_jobs.operations import control
from batch_jobs.testing import run_job
from tests.gated.models import Gadget
from tests.support.scripts import environment
from tests.support.sessions import database_url

ROOT = Path(__file__).resolve().parents[2]
GATE = "gated.0002_require_slugs"


@pytest.fixture(autouse=True)
def gated(settings):
    settings.JOB_APPS = ["testjobs", "gated", "batch_jobs"]
    settings.MIGRATION_MODULES = {"gated": "tests.gated.gates"}


def jobctl(*args):
    return CliRunner().invoke(cli, list(args), prog_name="jobctl")


def gadgets(count, blank=()):
    Gadget.objects.bulk_create(
        Gadget(name="" if i in blank else f"Gadget {i}") for i in range(count)
    )


def estimated(rows):
    """The total a walk reports for ``rows`` rows: none on SQLite, which gives no estimate."""
    return None if connection.vendor == "sqlite" else rows


def listed(result):
    """The row of the gate in ``jobctl backfills``' table."""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["MIGRATION", "JOB", "ARGUMENTS", "APPLIED", "STATE"]
    (row,) = [line for line in lines[1:] if line.startswith(GATE)]
    return row


def reported(result):
    (gate,) = [g for g in json.loads(result.stdout) if g["migration"] == GATE]
    return gate


@pytest.mark.django_db
def test_never_run_blocks_with_75():
    result = jobctl("backfills")
    assert result.exit_code == 75, result.output
    row = listed(result)
    assert row.split()[1:4] == ["fill_slugs", "-", "pending"]
    assert "fill_slugs: never run (blocks migrate)" in row
    assert result.stderr == (
        f"Error: migration {GATE} waits on backfill fill_slugs: fill_slugs: never run; "
        "run `job fill_slugs`, then try again\n"
    )


@pytest.mark.django_db
def test_finished_lets_migrate_go_on_with_0():
    gadgets(25)
    assert run_job("fill_slugs").exit_code == 0
    result = jobctl("backfills")
    assert result.exit_code == 0, result.output
    # PostgreSQL and MariaDB estimate the rows a walk has ahead; SQLite does not.
    assert re.search(r"fill_slugs: finished, 25 (of ~25 )?rows, run \d+ succeeded", listed(result))
    assert "blocks" not in listed(result)
    assert result.stdout.endswith("no pending migration waits on a backfill\n")
    assert result.stderr == ""


@pytest.mark.django_db
def test_a_dry_run_does_not_finish_a_backfill():
    gadgets(5)
    assert run_job("fill_slugs", "--dry-run").exit_code == 0
    assert reported(jobctl("backfills", "--json"))["state"] == "never run"


@pytest.mark.django_db
def test_failed_blocks_with_75():
    gadgets(25, blank={17})  # the second batch meets a gadget without a name: exit 65
    assert run_job("fill_slugs").exit_code == 65
    result = jobctl("backfills", "--json")
    assert result.exit_code == 75
    gate = reported(result)
    assert (gate["state"], gate["blocks"], gate["done"]) == ("failed", True, 10)
    run = JobRun.objects.get(pk=gate["run"])
    assert (run.job, run.status, run.exit_code) == ("fill_slugs", "failed", 65)
    assert "blocks migrate" in listed(jobctl("backfills"))


@pytest.mark.django_db
def test_interrupted_then_resumed():
    gadgets(25)
    assert run_job("fill_slugs", stop_after_batches=1).exit_code == 143
    result = jobctl("backfills", "--json")
    assert result.exit_code == 75
    gate = reported(result)
    assert (gate["state"], gate["done"], gate["total"]) == ("interrupted", 10, estimated(25))
    assert "waits on backfill fill_slugs: fill_slugs: interrupted, 10 " in result.stderr
    assert run_job("fill_slugs").exit_code == 0  # resumes from the checkpoint
    result = jobctl("backfills", "--json")
    assert result.exit_code == 0
    assert reported(result)["state"] == "finished"


@pytest.mark.django_db
def test_a_rest_within_inline_below_does_not_block_where_it_is_known():
    from batch_jobs import RequireJob
    from batch_jobs.operations.backfills import gates

    gadgets(25)
    assert run_job("fill_slugs", stop_after_batches=2).exit_code == 143  # 5 rows left
    (gate,) = [g for g in gates() if g.key == GATE]
    assert gate.blocks  # the migration's gate walks nothing inline (inline_below=0)
    for inline_below, blocks in [(5, False), (4, True)]:
        operation = RequireJob("fill_slugs", [], inline_below)
        state = dataclasses.replace(gate.state, gate=operation)
        lenient = dataclasses.replace(gate, operation=operation, state=state)
        # migrate would walk the 5 rows left itself; SQLite reports no total: not known there.
        assert lenient.blocks is (blocks if estimated(1) else True)


@pytest.mark.django_db
def test_paused_blocks_with_75():
    gadgets(5)
    control.pause("fill_slugs", by="ops")
    assert run_job("fill_slugs").record.status == "skipped"
    result = jobctl("backfills")
    assert result.exit_code == 75
    assert "fill_slugs: paused (blocks migrate)" in listed(result)
    # What to do, as migrate's line says it: running the job would do nothing.
    assert "resume it (`jobctl resume fill_slugs`) and let `job fill_slugs` finish" in (
        result.stderr
    )


@pytest.mark.django_db
def test_a_run_before_the_gates_dependencies_were_applied_does_not_count():
    gadgets(5)
    assert run_job("fill_slugs").exit_code == 0
    # The column the backfill fills was added after that run (a later deploy): it counts no more.
    MigrationRecorder.Migration.objects.filter(app="gated", name="0001_initial").update(
        applied=JobRun.objects.get().finished_at
    )
    assert reported(jobctl("backfills", "--json"))["state"] == "never run"


@pytest.mark.django_db
def test_a_gate_whose_dependencies_are_not_applied_counts_no_run():
    gadgets(5)
    assert run_job("fill_slugs").exit_code == 0
    MigrationRecorder.Migration.objects.filter(app="gated", name="0001_initial").delete()
    result = jobctl("backfills", "--json")
    assert result.exit_code == 75
    gate = reported(result)
    assert (gate["state"], gate["since"], gate["run"]) == ("never run", None, None)


@pytest.mark.django_db
def test_an_applied_gate_blocks_nothing_whatever_its_state():
    MigrationRecorder.Migration.objects.create(app="gated", name="0002_require_slugs")
    result = jobctl("backfills")
    assert result.exit_code == 0, result.output
    row = listed(result)
    assert "pending" not in row and "never run" in row
    assert reported(jobctl("backfills", "--json"))["applied"] is not None


@pytest.mark.django_db(transaction=True)
def test_running_with_progress_and_eta():
    gadgets(40)
    env = environment(
        database_url(),
        DJANGO_SETTINGS_MODULE="tests.settings",
        DJANGO_EXTRA_APPS="tests.testjobs",
        JOB_PROGRESS_INTERVAL="0.2",
    )
    job = subprocess.Popen(
        [str(Path(sys.executable).parent / "job"), "fill_slugs", "--throttle", "0.5"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # until the run has reported its progress, with a rate for the ETA
            result = jobctl("backfills")
            row = listed(result)
            if "running" in row and ("ETA" if estimated(1) else " rows, ") in row:
                break
            assert job.poll() is None and time.monotonic() < deadline, row
            time.sleep(0.1)
        assert result.exit_code == 75
        if estimated(1):
            assert re.search(
                r"fill_slugs: running, \d+ of ~40 rows, run \d+ running, ETA \d+s", row
            )
        else:
            assert re.search(r"fill_slugs: running, \d+ rows, run \d+ running", row)
        assert "(blocks migrate)" in row
    finally:
        assert job.wait(timeout=60) == 0
    assert reported(jobctl("backfills", "--json"))["state"] == "finished"


class KeepsGatedOff:
    """A router that migrates ``gated`` on no database: ``migrate`` passes its gate there."""

    def allow_migrate(self, db, app_label, **hints):
        return False if app_label == "gated" else None


@pytest.mark.django_db
def test_a_gate_of_an_app_the_router_migrates_elsewhere_blocks_nothing(settings):
    assert jobctl("backfills").exit_code == 75
    settings.DATABASE_ROUTERS = [f"{__name__}.KeepsGatedOff"]
    result = jobctl("backfills", "--json")
    assert result.exit_code == 0, result.output
    assert [g for g in json.loads(result.stdout) if g["migration"] == GATE] == []


@pytest.mark.django_db
def test_no_gates():
    from django.conf import settings

    settings.MIGRATION_MODULES = {"gated": None, "store": None}  # the apps that have gates
    result = jobctl("backfills")
    assert (result.exit_code, result.stdout) == (
        0,
        "no migration gates (RequireJob) in the project's migrations\n",
    )
    assert jobctl("backfills", "--json").stdout == "[]\n"


@pytest.mark.django_db
def test_an_unknown_database_alias_is_one_line_64():
    result = jobctl("backfills", "--database", "nope\x1b[2J")
    assert result.exit_code == 64
    assert result.stderr.startswith("Error: no database 'nope\\x1b[2J' in DATABASES (known: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.postgresql  # a postgres:// URL: the SQLite lane has no driver for it
@pytest.mark.parametrize(
    "words",
    [["backfills"], ["render", "kubernetes", "--image", "app:1", "--backfills"]],
    ids=["backfills", "render --backfills"],
)
def test_an_unreachable_database_is_one_line_69(words):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jobctl"), *words],
        cwd=ROOT,
        env=environment(
            "postgres://u:secret-pw@127.0.0.1:1/nothing",
            DJANGO_EXTRA_APPS="tests.gated",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 69, result.stderr
    assert result.stderr.startswith("Error: cannot read the migrations and the run records: ")
    assert len(result.stderr.splitlines()) == 1
    assert "secret-pw" not in result.stderr
    assert result.stdout == ""  # nothing rendered


# -- jobctl render kubernetes --backfills ------------------------------------------------


def render(*words):
    return jobctl("render", "kubernetes", "--image", "registry.example/app:1", *words)


@pytest.mark.django_db
def test_render_a_pending_backfill_as_a_job_that_validates():
    result = render("--backfills", "--namespace", "shop", "--database", "default")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "# Generated by `jobctl render kubernetes --image registry.example/app:1 "
        "--namespace shop --backfills --database default`"
    )
    (manifest,) = list(yaml.safe_load_all(result.stdout))
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    assert manifest["kind"] == "Job"
    assert manifest["metadata"]["generateName"] == "fill-slugs-"
    assert manifest["metadata"]["annotations"] == {"batch-jobs/gates": GATE}
    spec = manifest["spec"]
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2, 3, 64, 65, 78]
    assert spec["backoffLimit"] == 2 and spec["ttlSecondsAfterFinished"] == 86400
    (container,) = spec["template"]["spec"]["containers"]
    assert container["args"] == ["job", "fill_slugs"]


@pytest.mark.django_db
def test_render_nothing_once_the_backfill_finished():
    gadgets(3)
    assert run_job("fill_slugs").exit_code == 0
    result = render("--backfills")
    assert result.exit_code == 0
    assert list(yaml.safe_load_all(result.stdout)) == []
    assert "no pending backfills" in result.stderr


@pytest.mark.django_db
def test_render_a_sharded_backfill_as_an_indexed_job_that_validates(monkeypatch):
    from tests.gated.management.commands.fill_slugs import Command

    sharded = dataclasses.replace(Command._batch_job, shards=3)
    monkeypatch.setattr(Command, "_batch_job", sharded)
    result = render("--backfills")
    assert result.exit_code == 0, result.output
    (manifest,) = list(yaml.safe_load_all(result.stdout))
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    assert (manifest["spec"]["completionMode"], manifest["spec"]["completions"]) == (
        "Indexed",
        3,
    )


@pytest.mark.parametrize(
    "words",
    [
        ["--backfills", "--job", "fill_slugs"],
        ["--backfills", "--shards", "2"],
        ["--backfills", "--", "--restart"],
        ["--database", "default"],
    ],
)
def test_render_backfills_refuses_what_the_gates_say(words):
    result = render(*words)
    assert result.exit_code == 2
    assert (
        "--backfills renders the jobs the migration gates name" in result.output
        or "--database goes with --backfills" in result.output
    )


@pytest.mark.django_db
def test_a_gate_naming_no_job_is_one_line_78(settings):
    settings.MIGRATION_MODULES = {"gated": "tests.gated.broken"}
    result = jobctl("backfills")
    assert result.exit_code == 78
    assert result.stderr == (
        "Error: migration gate gated.0002_require_nothing: migration gate: no job named "
        "'fill_slgus' in this project; see `manage.py check`\n"
    )
