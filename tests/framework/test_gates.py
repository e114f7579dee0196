"""Migration gates in-process: the state of a gate's backfill read from the run records and
the checkpoint (``gate_state``), the inline run with its limit, the operation's migration
surface (deconstruct, describe, the refusals of its arguments) and its system checks. The
gate's migrations run as processes in tests/gates/test_migrate.py."""

import datetime
import types

import pytest
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_jobs import ExitCode, RequireJob
from batch_jobs.framework import gates
from batch_jobs.framework.outcome import TooMuchLeft
from batch_jobs.models import JobPause, JobRun
from batch_jobs.testing import run_job
from tests.testjobs.models import Item

in_db = pytest.mark.django_db(transaction=True)

GATE = RequireJob("upper_items", ["--strategy", "set"], inline_below=50)


def seed(count):
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(count))


def uppered():
    """Items upper-cased (compared in Python: SQLite's LIKE ignores case)."""
    return sum(name.isupper() for name in Item.objects.values_list("name", flat=True))


@in_db
def test_never_run_then_finished_by_a_complete_walk_with_the_same_arguments():
    seed(30)
    assert gates.gate_state(GATE).state == "never run"
    run_job("upper_items", "--strategy", "python")  # another walk: does not count
    assert gates.gate_state(GATE).state == "never run"
    run_job("upper_items", "--strategy", "set", "--dry-run")  # a dry run: does not count
    assert gates.gate_state(GATE).state == "never run"
    run_job("upper_items", "--strategy", "set", "--batch-size", "7")  # how, not what: counts
    state = gates.gate_state(GATE)
    assert (state.state, state.done, state.run.status) == ("finished", 30, "succeeded")
    assert state.line().startswith("upper_items --strategy set: finished, 30 ")
    # A run that started before the gate's dependencies were applied does not count.
    later = timezone.now() + datetime.timedelta(seconds=1)
    assert gates.gate_state(GATE, since=later).state == "never run"


@in_db
def test_interrupted_then_paused_then_failed():
    seed(30)
    result = run_job("upper_items", "--strategy", "set", "--batch-size", "10", stop_after_batches=2)
    assert result.exit_code == ExitCode.SIGTERM
    state = gates.gate_state(GATE)
    assert (state.state, state.done, state.run.pk) == ("interrupted", 20, result.record.pk)
    of = f"of ~{state.total} " if state.total else ""  # no estimate on SQLite
    assert f"interrupted, 20 {of}rows, run {result.record.pk} interrupted" in state.line()
    JobPause.objects.create(job="upper_items", paused_by="ops")
    assert gates.gate_state(GATE).state == "paused"
    JobPause.objects.all().delete()
    JobRun.objects.filter(pk=result.record.pk).update(status="running")
    assert gates.gate_state(GATE).state == "running"
    JobRun.objects.filter(pk=result.record.pk).update(status="abandoned")
    assert gates.gate_state(GATE).state == "failed"


@in_db
def test_the_inline_run_walks_what_is_left_within_the_limit_and_stops_beyond_it():
    seed(80)  # more than the gate's 50
    with pytest.raises(TooMuchLeft) as stopped:
        gates.run_inline(GATE, "default")
    assert stopped.value.returncode == ExitCode.TEMPORARY
    assert uppered() == 0  # no batch ran
    assert JobRun.objects.get().status == "blocked"
    run_job("upper_items", "--strategy", "set", "--batch-size", "10", stop_after_batches=4)
    state = gates.run_inline(GATE, "default")  # 40 left: walked inline
    assert state.state == "finished"
    assert uppered() == 80


@in_db
def test_an_inline_run_that_walks_nothing_leaves_no_record():
    assert gates.run_inline(GATE, "default").state == "never run"
    assert not JobRun.objects.exists()


def test_a_gate_is_a_migration_operation():
    assert GATE.deconstruct() == (
        "batch_jobs.RequireJob",
        [],
        {"job": "upper_items", "args": ["--strategy", "set"], "inline_below": 50},
    )
    assert RequireJob("x").deconstruct() == ("batch_jobs.RequireJob", [], {"job": "x"})
    assert GATE.describe() == "Require the backfill `upper_items --strategy set` to have finished"
    assert GATE.reversible and not GATE.reduces_to_sql
    assert GATE.migration_name_fragment == "require_upper_items"
    assert RequireJob("upper_items", ["--strategy", "set"], inline_below=50) == GATE


def test_the_checks_refuse_a_gate_that_is_not_first_or_whose_job_does_not_load():
    def found(gate, first=True):
        return gates.ProjectGate("a", "0002_x", gate, 0 if first else 1, first, (), None)

    assert gates.gate_problems(found(GATE)) == []
    (late,) = gates.gate_problems(found(GATE, first=False))
    assert late.id == "batch_jobs.E101" and "operation 2" in late.msg
    (unknown,) = gates.gate_problems(found(RequireJob("no_such_job")))
    assert unknown.id == "batch_jobs.W101" and "no job named 'no_such_job'" in unknown.msg
    assert not unknown.is_serious()  # a job removed once every database is past its gate
    (refused,) = gates.gate_problems(found(RequireJob("upper_items", ["--strategy", "nope"])))
    assert refused.id == "batch_jobs.E102" and "refuses the arguments" in refused.msg
    (not_a_job,) = gates.gate_problems(found(RequireJob("migrate")))
    assert "migrate is not a JobCommand" in not_a_job.msg


@settings(max_examples=40, deadline=None)
@given(
    job=st.one_of(st.text(max_size=20), st.integers(), st.none()),
    args=st.one_of(st.lists(st.one_of(st.text(max_size=10), st.integers())), st.text()),
    inline_below=st.one_of(st.integers(), st.booleans(), st.floats(), st.none()),
)
def test_careless_arguments_are_refused_with_a_value_error(job, args, inline_below):
    """What a migration author may type: a gate is made, or ValueError says which argument."""
    try:
        gate = RequireJob(job, args, inline_below)
    except ValueError as e:
        assert str(e).startswith("RequireJob: ")
        return
    assert isinstance(gate.job, str) and gate.job
    assert all(isinstance(a, str) for a in gate.args)
    assert isinstance(gate.inline_below, int) and gate.inline_below >= 0
    assert gate == RequireJob(**gate.deconstruct()[2])


@in_db
def test_a_gate_with_a_job_that_does_not_exist_is_a_configuration_error():
    with pytest.raises(CommandError) as refused:
        gates.gate_state(RequireJob("no_such_job"))
    assert refused.value.returncode == ExitCode.CONFIG


@in_db
def test_enforce_stops_with_one_line_and_75_or_walks_inline():
    """What ``migrate`` meets at a gate (``call_command("migrate")`` raises the same)."""
    seed(80)
    with pytest.raises(gates.BackfillPending) as stopped:
        gates.enforce(GATE, "testjobs", "default")
    assert stopped.value.returncode == ExitCode.TEMPORARY
    line = str(stopped.value)
    assert "\n" not in line
    assert line.startswith("migration testjobs waits for a backfill: upper_items --strategy set")
    assert "more than 50 rows left; run `job upper_items --strategy set`" in line
    JobPause.objects.create(job="upper_items", paused_by="ops")
    with pytest.raises(gates.BackfillPending) as paused:
        gates.enforce(RequireJob("upper_items", ["--strategy", "set"], 1000), "testjobs", "default")
    assert "paused" in str(paused.value) and "jobctl resume upper_items" in str(paused.value)
    assert uppered() == 0  # a paused job: not run
    JobPause.objects.all().delete()
    state = gates.enforce(
        RequireJob("upper_items", ["--strategy", "set"], 1000), "testjobs", "default"
    )
    assert state.finished and uppered() == 80


@in_db
def test_a_sharded_backfill_finishes_the_gate_once_every_shard_has_walked():
    """The rendered Indexed Job of a sharded backfill runs ``--shard I/N`` in each pod: the
    walk the gate names is finished once every shard of one plan has finished its range."""
    seed(30)
    run_job("upper_items", "--strategy", "set", "--shard", "0/2")
    state = gates.gate_state(GATE)
    assert state.state != "finished", state  # one shard of two: half the rows
    assert gates.gate_state(GATE).run.arguments["shard"] == "0/2"
    run_job("upper_items", "--strategy", "set", "--shard", "0/3")  # another plan's part
    assert gates.gate_state(GATE).state != "finished"
    run_job("upper_items", "--strategy", "set", "--shard", "1/2", "--batch-size", "4")
    state = gates.gate_state(GATE)
    assert (state.state, state.done) == ("finished", 30) and uppered() == 30


class KeepsTestjobsOff:
    """A router that migrates ``testjobs`` on no database: ``migrate --database replica`` of a
    project whose gated app lives elsewhere."""

    def allow_migrate(self, db, app_label, **hints):
        return False if app_label == "testjobs" else None


@in_db
def test_a_gate_passes_without_running_where_the_router_keeps_its_app_off(settings):
    """As ``RunPython``: a database the router does not migrate the app on has neither the
    table nor its backfill; the gate neither runs the job there nor stops ``migrate``."""
    seed(80)  # more than the gate walks inline: it would stop migrate
    settings.DATABASE_ROUTERS = [f"{__name__}.KeepsTestjobsOff"]
    editor = types.SimpleNamespace(connection=connections["default"], collect_sql=False)
    GATE.database_forwards("testjobs", editor, None, None)
    assert uppered() == 0 and not JobRun.objects.exists()
    settings.DATABASE_ROUTERS = []
    with pytest.raises(gates.BackfillPending):
        GATE.database_forwards("testjobs", editor, None, None)


@in_db
def test_an_inline_run_that_did_not_finish_the_walk_does_not_pass_the_gate():
    """A job paused between the gate's reading and its inline run is skipped: nothing walked,
    so ``migrate`` stops rather than apply the constraint on rows not filled."""
    seed(30)
    JobPause.objects.create(job="upper_items", paused_by="ops")
    with pytest.raises(gates.NotWalkedInline):  # enforce stops migrate with 75 on it
        gates.run_inline(GATE, "default")
    assert uppered() == 0


@in_db
def test_a_gate_that_names_a_dry_run_is_refused():
    """A dry run finishes no backfill: a gate with ``--dry-run`` would walk every row inline
    (the size check skips dry runs) and pass with nothing filled."""
    seed(30)
    dry = RequireJob("upper_items", ["--strategy", "set", "--dry-run"], inline_below=10)
    with pytest.raises(CommandError) as refused:
        gates.enforce(dry, "testjobs", "default")
    assert refused.value.returncode == ExitCode.CONFIG and "--dry-run" in str(refused.value)
    assert uppered() == 0
    (problem,) = gates.gate_problems(gates.ProjectGate("a", "0002_x", dry, 0, True, (), None))
    assert problem.id == "batch_jobs.E102"
