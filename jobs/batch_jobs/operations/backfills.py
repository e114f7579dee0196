"""Every migration gate of the project (``RequireJob`` in a migration), applied or pending,
with its job's state: what ``jobctl backfills``, ``jobctl render kubernetes --backfills`` and
the console's gates page show.

A gate's migrations and ``django_migrations`` are read on the database the migrations run on
(``using``, the default database unless told); the runs that finish a backfill are read by
``framework.gates.gate_state`` from the run records. A gate counts a run that started after
the migrations it depends on were applied (``since``): before, the column it fills was not
there yet.
"""

import dataclasses
import datetime
import json

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS

from batch_jobs.framework import gates as framework
from batch_jobs.framework.gates import GateState, RequireJob


@dataclasses.dataclass(frozen=True)
class Gate:
    """One ``RequireJob`` of one migration, and where it stands."""

    app: str
    migration: str
    operation: RequireJob
    applied: datetime.datetime | None  # when its migration was applied; None: pending
    since: datetime.datetime | None  # when the migrations it depends on were; None: not yet
    state: GateState

    @property
    def key(self):
        return f"{self.app}.{self.migration}"

    @property
    def job(self):
        return self.operation.job

    @property
    def args(self):
        return tuple(self.operation.args)

    @property
    def pending(self):
        return self.applied is None

    @property
    def finished(self):
        return self.state.finished

    @property
    def blocks(self):
        """Whether ``migrate`` would stop at this gate now: its migration is pending and the
        gate's state says it stops ``migrate`` (``GateState.stops_migrate``, beside the gate's
        own rule)."""
        return self.pending and self.state.stops_migrate

    @property
    def line(self):
        return self.state.line()

    def as_dict(self):
        state = self.state
        return {
            "migration": self.key,
            "job": self.job,
            "args": list(self.args),
            "applied": self.applied.isoformat() if self.applied else None,
            "since": self.since.isoformat() if self.since else None,
            "state": state.state,
            "run": state.run.pk if state.run is not None else None,
            "done": state.done,
            "total": state.total,
            "eta_seconds": state.eta_seconds,
            "paused": state.paused,
            "blocks": self.blocks,
            "line": self.line,
        }


class BadGate(Exception):
    """A gate whose job does not load or refuses its arguments (``manage.py check`` says
    so too: ``batch_jobs.E102``): its state cannot be read."""


def gates(using=DEFAULT_DB_ALIAS, job=None):
    """Every gate in the project's migrations (``framework.gates.project_gates``), in
    (app, migration) order, with the state of each on database ``using``; with ``job``,
    only the gates that wait on that job; not those of an app the router does not migrate on
    ``using`` (``migrate`` passes them there). ``BadGate`` for a gate whose job cannot be
    read."""
    applied = framework.applied_migrations(using)
    found = []
    for place in framework.project_gates(using):
        if job is not None and place.gate.job != job:
            continue
        if not framework.gates_on(using, place.app_label):
            continue  # migrate passes it there: the router migrates its app elsewhere
        since = None
        if not framework.dependencies_applied(place.dependencies, applied):
            # The migrations it depends on are not applied: no run so far can count (the
            # column it fills may not be there yet).
            state = GateState(place.gate, framework.NEVER_RUN)
        else:
            since = framework.dependencies_applied_at(place.dependencies, applied)
            try:
                state = framework.gate_state(place.gate, using=using, since=since)
            except CommandError as e:
                raise BadGate(f"{place.app_label}.{place.migration}: {e}") from None
        found.append(
            Gate(
                app=place.app_label,
                migration=place.migration,
                operation=place.gate,
                applied=applied.get((place.app_label, place.migration)),
                since=since,
                state=state,
            )
        )
    return found


def pending_backfills(found):
    """The gates of pending migrations whose backfill has not finished: the Jobs to run
    before the deploy that applies them."""
    return [gate for gate in found if gate.pending and not gate.finished]


HEADERS = ["MIGRATION", "JOB", "ARGUMENTS", "APPLIED", "STATE"]


def row(gate):
    return [
        gate.key,
        gate.job,
        " ".join(gate.args) or "-",
        gate.applied.strftime("%Y-%m-%d %H:%M:%S") if gate.applied else "pending",
        gate.line + (" (blocks migrate)" if gate.blocks else ""),
    ]


def as_json(found):
    return json.dumps([gate.as_dict() for gate in found], indent=2)
