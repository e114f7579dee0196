"""Migration gates: ``RequireJob``, a migration operation that waits for a backfill job.

A schema migration that needs a backfill to have finished (a ``NOT NULL``, a unique index, an
old column dropped) starts with ``RequireJob("normalize_emails", args=[...])``. When
``migrate`` reaches it:

* the backfill has **finished** (a succeeded, complete, non-dry walk of that job with those
  arguments, started after the migrations this one depends on were applied): it passes;
* else, when at most ``inline_below`` rows are left (a count, or the database's estimate), the
  remaining batches run **inline**, inside ``migrate``: the job itself through
  ``call_command``, with its checkpoints, lock and run record;
* else ``migrate`` **stops** with one line (which job, how far, what to run) and exit 75
  (``ExitCode.TEMPORARY``), before any other operation of that migration has run.

A gate must come before every other operation of its migration (other gates aside): a system
check (``batch_jobs.E101``) says so (``E102``: its job refuses its arguments; ``W101``: its
job does not exist), so that a stop leaves the database as it was before the
migration even where DDL is not transactional (MariaDB, MySQL) or the migration is not atomic.

``gate_state(gate, using=...)`` reads where a gate's backfill stands from the run records and
the checkpoint, and ``project_gates()`` lists every gate of the project's migrations: what
``jobctl backfills`` and the console report.
"""

import dataclasses
import io
import json
import shlex

from django.core import checks
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.migrations.operations.base import Operation, OperationCategory

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.connection import OWN_ALIAS
from batch_jobs.framework.outcome import TooMuchLeft
from batch_jobs.framework.redact import redact_options, safe_line
from batch_jobs.framework.shards import Shard
from batch_jobs.framework.walk import INLINE_LIMIT, arguments_hash
from batch_jobs.models import JobCheckpoint, JobPause, JobRun

#: Every state a gate's backfill can be in, as ``GateState.state`` says it.
FINISHED, RUNNING, PAUSED, FAILED, INTERRUPTED, NEVER_RUN = STATES = (
    "finished",  # a succeeded, complete, non-dry walk since the gate's dependencies
    "running",  # its latest run is running
    "paused",  # `jobctl pause` holds the job
    "failed",  # its latest run failed, or died without finishing (abandoned)
    "interrupted",  # its latest run stopped (a signal, --max-runtime, an operator)
    "never run",  # no run of that walk since the gate's dependencies were applied
)

#: Run statuses that say something about the walk (a blocked or skipped run did nothing).
_WALKED = {
    JobRun.Status.SUCCEEDED: FINISHED,
    JobRun.Status.RUNNING: RUNNING,
    JobRun.Status.FAILED: FAILED,
    JobRun.Status.ABANDONED: FAILED,
    JobRun.Status.INTERRUPTED: INTERRUPTED,
    JobRun.Status.STOPPED: INTERRUPTED,
}

#: How many of a job's latest runs since the gate's dependencies are read for its state.
RUNS_READ = 500

#: The system check of a gate that is not its migration's first operation, or whose job or
#: arguments do not load.
GATE_NOT_FIRST = "batch_jobs.E101"
GATE_BAD_JOB = "batch_jobs.E102"
#: A warning, not an error: a backfill job removed once every database is past its gate.
GATE_NO_JOB = "batch_jobs.W101"


class BackfillPending(CommandError):
    """``migrate`` stopped at a gate whose backfill has not finished: exit 75, one line."""

    def __init__(self, message):
        super().__init__(message, returncode=ExitCode.TEMPORARY)


class RequireJob(Operation):
    """A migration gate: the migration goes on only once ``job`` with ``args`` has walked
    every row; at most ``inline_below`` rows left are walked inline, inside ``migrate``."""

    reversible = True
    reduces_to_sql = False
    atomic = False  # the inline run's batches are transactions of their own where they can be
    elidable = False
    category = OperationCategory.PYTHON  # makemigrations and squashmigrations show "p"

    def __init__(self, job, args=(), inline_below=10_000):
        if not isinstance(job, str) or not job:
            raise ValueError("RequireJob: job must be a job's name")
        if isinstance(args, str) or not all(isinstance(a, str) for a in args):
            raise ValueError("RequireJob: args must be a list of strings (a command line)")
        if not isinstance(inline_below, int) or isinstance(inline_below, bool) or inline_below < 0:
            raise ValueError("RequireJob: inline_below must be an integer >= 0")
        self.job = job
        self.args = list(args)
        self.inline_below = inline_below

    def deconstruct(self):
        kwargs = {"job": self.job}
        if self.args:
            kwargs["args"] = list(self.args)
        if self.inline_below != 10_000:
            kwargs["inline_below"] = self.inline_below
        return ("batch_jobs.RequireJob", [], kwargs)

    @property
    def command_line(self):
        """The backfill's command line, as an operator types it: ``job <name> <args>``."""
        return shlex.join(["job", self.job, *self.args])

    def describe(self):
        return f"Require the backfill `{shlex.join([self.job, *self.args])}` to have finished"

    @property
    def migration_name_fragment(self):
        return f"require_{self.job}"

    def state_forwards(self, app_label, state):
        pass

    def state_backwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if getattr(schema_editor, "collect_sql", False):
            return  # sqlmigrate: named (describe), never run
        alias = schema_editor.connection.alias
        if gates_on(alias, app_label):
            enforce(self, app_label, alias)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass  # reversing the migration passes through the gate

    def __eq__(self, other):
        return isinstance(other, RequireJob) and self.deconstruct() == other.deconstruct()

    def __hash__(self):
        return hash((self.job, tuple(self.args), self.inline_below))


@dataclasses.dataclass(frozen=True)
class GateState:
    """Where a gate's backfill stands. ``state`` is one of ``STATES``; ``run`` the run that
    decided it (the latest relevant one, or the finishing one), if any; ``done`` the rows
    walked so far and ``total`` the estimate of rows; ``eta_seconds`` from the running run's
    progress."""

    gate: RequireJob
    state: str
    run: JobRun | None = None
    done: int | None = None
    total: int | None = None
    eta_seconds: float | None = None
    paused: bool = False

    @property
    def finished(self):
        return self.state == FINISHED

    @property
    def stops_migrate(self):
        """Whether ``migrate`` stops at this gate (``enforce``), as the records tell it without
        running anything: it does not when the backfill has finished, or when a stopped or
        failed walk reported its rows and left at most ``inline_below`` (``enforce`` walks
        those inline). A running or paused backfill stops it. Where the rows left are unknown
        (never run; SQLite, which estimates nothing) it counts as stopping, the safe side for
        a pipeline that waits: only an inline run counts them, and may pass a small rest."""
        if self.finished:
            return False
        if self.state not in (INTERRUPTED, FAILED) or self.paused:
            return True
        if self.total is None or self.done is None:
            return True
        return self.total - self.done > self.gate.inline_below

    def line(self):
        """One line: which job, how far (done of ~total), the run, paused or not."""
        parts = [f"{shlex.join([self.gate.job, *self.gate.args])}: {self.state}"]
        if self.done is not None or self.total is not None:
            done = self.done or 0
            parts.append(f"{done} of ~{self.total} rows" if self.total else f"{done} rows")
        if self.run is not None:
            parts.append(f"run {self.run.pk} {self.run.status}")
        if self.eta_seconds is not None and self.state == RUNNING:
            parts.append(f"ETA {round(self.eta_seconds)}s")
        if self.paused and self.state != PAUSED:
            parts.append("paused")
        return safe_line(", ".join(parts))


def gates_on(alias, app_label):
    """Whether ``app_label``'s gates act on database ``alias``: as ``RunPython``, not where the
    router migrates the app on another database (its tables, and its backfill, are there)."""
    return router.allow_migrate(alias, app_label)


# -- the job and its arguments ---------------------------------------------------------------


def job_command(name):
    """The ``JobCommand`` instance of the job ``name``, or ``CommandError`` (78)."""
    from batch_jobs.framework.command import JobCommand

    app = get_commands().get(name)
    if app is None:
        raise CommandError(
            f"migration gate: no job named {name!r} in this project", returncode=ExitCode.CONFIG
        )
    command = load_command_class(app, name)
    if not isinstance(command, JobCommand):
        raise CommandError(
            f"migration gate: {name} is not a JobCommand", returncode=ExitCode.CONFIG
        )
    return command


def parsed_options(gate):
    """The gate's arguments parsed by its job's parser as ``call_command`` parses them:
    ``(options, args)``; ``CommandError`` (78) when the job refuses them."""
    command = job_command(gate.job)
    parser = command.create_parser("", gate.job)
    try:
        namespace = parser.parse_args(gate.args)
    except (CommandError, SystemExit) as e:
        raise CommandError(
            f"migration gate: {gate.job} refuses the arguments {gate.args!r}: {e}",
            returncode=ExitCode.CONFIG,
        ) from e
    options = dict(vars(namespace))
    if options.get("dry_run"):
        raise CommandError(
            f"migration gate: RequireJob({gate.job!r}) names a dry run, which finishes no "
            "backfill; leave --dry-run out of its arguments",
            returncode=ExitCode.CONFIG,
        )
    args = options.pop("args", ())
    return options, list(args)


def walk_hashes(gate):
    """``(run_hash, checkpoint_hash)``: what identifies the gate's walk in run records
    (``arguments``, as ``lifecycle.Run`` stores them; any shard of it) and in the checkpoint."""
    options, args = parsed_options(gate)
    stored = redact_options({**options, "args": args} if args else options)
    stored = json.loads(json.dumps(stored, default=str))  # as the JSON column gives it back
    return arguments_hash(stored, shard=False), arguments_hash(options)


# -- the state -------------------------------------------------------------------------------


def gate_state(gate, *, using=DEFAULT_DB_ALIAS, since=None):
    """Where ``gate``'s backfill stands on database ``using``: runs started before ``since``
    (the gate's dependencies' ``applied`` time; ``None``: any) do not count."""
    run_hash, checkpoint_hash = walk_hashes(gate)
    runs = JobRun.objects.using(using).filter(job=gate.job, dry_run=False)
    if since is not None:
        runs = runs.filter(started_at__gte=since)
    relevant = [
        run
        for run in runs.filter(status__in=list(_WALKED)).order_by("-started_at", "-pk")[:RUNS_READ]
        if arguments_hash(run.arguments, shard=False) == run_hash
    ]
    paused = JobPause.objects.using(using).filter(job=gate.job).exists()
    checkpoint = (
        JobCheckpoint.objects.using(using)
        .filter(job=gate.job, arguments_hash=checkpoint_hash)
        .first()
    )
    finishing, parts = finishing_runs(relevant)
    latest = relevant[0] if relevant else None
    if finishing is not None:
        decided, state = finishing, FINISHED
    elif paused:
        decided, state = latest, PAUSED
    elif latest is None:
        decided, state = None, NEVER_RUN
    else:
        decided = latest
        state = _WALKED[latest.status]
        if state == FINISHED:  # succeeded without walking to the end (a shard's part)
            state = INTERRUPTED
    progress = (decided.progress or {}) if decided is not None else {}
    if state == FINISHED:
        walked = [walked_rows(run) for run in parts]
        done = None if None in walked else sum(walked)
    elif checkpoint is not None:
        done = checkpoint.rows
    else:
        done = walked_rows(decided) if decided is not None else None
    total = progress.get("total")
    eta = progress.get("eta_s") if state == RUNNING else None
    return GateState(gate, state, decided, done, total, eta, paused)


def walked_rows(run):
    """The rows ``run``'s walk had walked when it ended (earlier runs' included), or ``None``."""
    progress = run.progress or {}
    return progress.get("before", 0) + progress.get("done", 0) if progress else None


def finishing_runs(relevant):
    """``(run, parts)``: the run that finished the gate's walk and the runs that walked it, or
    ``(None, [])``. The newest complete run of the whole walk; or, of a sharded walk (a
    rendered Indexed Job runs ``--shard I/N`` in each pod), complete runs of every shard of
    one N, the newest of them deciding. ``relevant`` is newest first."""
    shards = {}  # N: {I: the newest complete run of shard I/N}
    for run in relevant:
        if not complete(run):
            continue
        shard = (run.arguments or {}).get("shard")
        if shard is None:
            return run, [run]
        try:
            shard = Shard.parse(shard)
        except ValueError:
            continue
        parts = shards.setdefault(shard.count, {})
        parts.setdefault(shard.index, run)
        if len(parts) == shard.count:
            return relevant[min(map(relevant.index, parts.values()))], list(parts.values())
    return None, []


def complete(run):
    """A succeeded run whose walk finished (or of a job that does not walk: no walk at all)."""
    walk = run.walk or {}
    return run.status == JobRun.Status.SUCCEEDED and (bool(walk.get("done")) or not walk)


# -- the gates of the project's migrations ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProjectGate:
    """A gate in the project's migrations: where it is, what its migration depends on, and
    whether that migration is applied on the database it was read from."""

    app_label: str
    migration: str
    gate: RequireJob
    position: int  # among its migration's operations
    first: bool  # only gates come before it
    dependencies: tuple
    applied: bool | None  # None: read without a database


def project_gates(using=None):
    """Every ``RequireJob`` in the project's migrations, in (app, migration) order; with
    ``using``, each says whether its migration is applied there."""
    from django.db.migrations.loader import MigrationLoader

    connection = connections[using] if using is not None else None
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    found = []
    for (app_label, name), migration in sorted(loader.disk_migrations.items()):
        operations = list(migration.operations)
        for position, operation in enumerate(operations):
            if not isinstance(operation, RequireJob):
                continue
            first = all(isinstance(op, RequireJob) for op in operations[:position])
            applied = (app_label, name) in loader.applied_migrations if using else None
            found.append(
                ProjectGate(
                    app_label,
                    name,
                    operation,
                    position,
                    first,
                    tuple(tuple(d) for d in migration.dependencies),
                    applied,
                )
            )
    return found


def applied_migrations(using):
    """``{(app, name): applied}`` of ``django_migrations`` on ``using`` (empty before the first
    ``migrate``)."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[using])
    if not recorder.has_table():
        return {}
    return {(row.app, row.name): row.applied for row in recorder.migration_qs}


def _named(dependencies):
    return [(app, name) for app, name in dependencies if not name.startswith("__")]


def dependencies_applied(dependencies, applied):
    """Whether every one of a gate's migration's ``dependencies`` is in ``applied``
    (``applied_migrations``); ``__first__`` and ``__latest__`` left out."""
    return all(key in applied for key in _named(dependencies))


def dependencies_applied_at(dependencies, applied):
    """When the last of a gate's migration's ``dependencies`` was applied, as ``applied``
    (``applied_migrations``) says: what a finishing run must have started after (``None``:
    none of them is named, any run counts)."""
    return max((applied[key] for key in _named(dependencies) if key in applied), default=None)


def _found(gate, app_label):
    """``gate``'s place in the project's migrations (the very operation object)."""
    for found in project_gates():
        if found.gate is gate and found.app_label == app_label:
            return found
    return None


# -- migrate reaches a gate ------------------------------------------------------------------


def enforce(gate, app_label, using):
    """Pass, run the rest inline, or raise ``BackfillPending`` (75)."""
    found = _found(gate, app_label)
    where = f"{app_label}.{found.migration}" if found else app_label
    if found is not None and not found.first:
        raise CommandError(
            f"migration {where}: RequireJob({gate.job!r}) must come before every other "
            "operation of its migration (see `manage.py check`, batch_jobs.E101)",
            returncode=ExitCode.CONFIG,
        )
    since = (
        dependencies_applied_at(found.dependencies, applied_migrations(using)) if found else None
    )
    state = gate_state(gate, using=using, since=since)
    if state.finished:
        return state
    left = None
    if state.state != PAUSED:
        try:
            return run_inline(gate, using)
        except TooMuchLeft as e:
            left = e
        except NotWalkedInline:
            pass
        state = gate_state(gate, using=using, since=since)  # the probe may have read more
        if state.finished:
            return state
    if left is not None and state.total is None and left.total:
        state = dataclasses.replace(state, total=left.total, done=state.done or left.done)
    raise BackfillPending(
        f"migration {where} waits for a backfill: {state.line()}"
        + (f", more than {gate.inline_below} rows left" if left is not None else "")
        + f"; {what_to_run(state)}, then migrate again"
    )


def what_to_run(state):
    """What the operator does next, for the line ``migrate`` stops with."""
    gate = state.gate
    if state.state == PAUSED or state.paused:
        return f"resume it (`jobctl resume {gate.job}`) and let `{gate.command_line}` finish"
    if state.state == RUNNING:
        return f"let run {state.run.pk} finish"
    if state.state in (INTERRUPTED, FAILED):
        return f"resume it: `{gate.command_line}`"
    return f"run `{gate.command_line}`"


class NotWalkedInline(Exception):
    """The inline run did not walk to the end: another run holds the job's lock, or the run
    was skipped (the job paused meanwhile, ``--skip-if-running``)."""


def run_inline(gate, using):
    """Run the job inline with at most ``gate.inline_below`` rows left to walk; raise
    ``TooMuchLeft`` when more are left (the walk checks before its first batch),
    ``NotWalkedInline`` when it did not walk to the end for another reason. A run that
    walked nothing (an empty table: a fresh database) leaves no record, so that a test
    database starts with no runs."""
    command = job_command(gate.job)
    output = io.StringIO()
    token = INLINE_LIMIT.set(gate.inline_below)
    try:
        call_command(command, *gate.args, stdout=output, stderr=output)
    except CommandError as e:
        if isinstance(e, TooMuchLeft):
            raise
        if e.returncode == ExitCode.TEMPORARY:  # another run holds the lock
            raise NotWalkedInline(str(e)) from e
        raise CommandError(
            f"migration gate: the inline run of `{gate.command_line}` failed: {e}",
            returncode=e.returncode,
        ) from e
    finally:
        INLINE_LIMIT.reset(token)
    run = getattr(command._state, "record", None)
    if run is not None and walked_nothing(run):
        # The framework's own control connection is closed when the run ends: the same
        # database through the default alias, rather than open it again and leave it open.
        alias = DEFAULT_DB_ALIAS if run._state.db == OWN_ALIAS else run._state.db
        JobRun.objects.using(alias).filter(pk=run.pk).delete()
    elif run is not None and not complete(run):
        raise NotWalkedInline(f"run {run.pk} {run.status}")
    return gate_state(gate, using=using)


def walked_nothing(run):
    """A succeeded run of a walk that found no row at all (none before it either)."""
    progress = run.progress or {}
    walk = run.walk or {}
    return (
        run.status == JobRun.Status.SUCCEEDED
        and walk.get("done")
        and walk.get("last_key") is None
        and walk.get("resumed_after") is None
        and not progress.get("done")
        and not progress.get("before")
    )


# -- system checks ---------------------------------------------------------------------------


def check_gates(app_configs=None, **kwargs):
    """A gate that is not the first operation of its migration (E101), whose job is not a
    JobCommand or refuses its arguments (E102), or whose job does not exist (W101)."""
    try:
        found = project_gates()
    except Exception:  # migrations that do not load: migrate itself says so
        return []
    return [error for gate in found for error in gate_problems(gate)]


def gate_problems(found):
    """The system check's errors about one ``ProjectGate``."""
    where = f"{found.app_label}.{found.migration}"
    errors = []
    if not found.first:
        errors.append(
            checks.Error(
                f"migration {where}: RequireJob({found.gate.job!r}) is operation "
                f"{found.position + 1}; a gate must come before every other operation "
                "of its migration",
                hint="Move it to the top of `operations`: a gate that stops `migrate` "
                "must find nothing of its migration done (MariaDB cannot roll DDL back).",
                obj=where,
                id=GATE_NOT_FIRST,
            )
        )
    if get_commands().get(found.gate.job) is None:
        errors.append(
            checks.Warning(
                f"migration {where}: no job named {found.gate.job!r} in this project; "
                "a migrate that reaches this gate stops with 78",
                hint="Keep the backfill job while any database may still apply this "
                "migration (a new developer's, a test database); once none will, remove "
                "the gate from the migration.",
                obj=where,
                id=GATE_NO_JOB,
            )
        )
        return errors
    try:
        walk_hashes(found.gate)
    except CommandError as e:
        errors.append(
            checks.Error(
                f"migration {where}: {e}",
                hint="Name a JobCommand of this project, with arguments it accepts.",
                obj=where,
                id=GATE_BAD_JOB,
            )
        )
    return errors
