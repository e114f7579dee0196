"""How fast a batch walk goes: batch sizes that follow a target time per batch.

``--batch-time SECONDS`` makes each batch's size follow a smoothed measure of rows per
second toward that target, as pt-online-schema-change's ``--chunk-time`` and GitLab's batched
migrations do: at most double from one batch to the next, at once smaller when a batch runs
long, never below ``min_batch_size`` nor above ``max_batch_size``. ``--batch-size`` alone
keeps a fixed size (with ``--batch-time``, it is the first batch's).
"""

import time
from logging import WARNING

from django.core.management.base import CommandError

from batch_jobs.backends import backend_for
from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.stop import STOP

#: What ``--batch-time`` alone means: pt-online-schema-change's default ``--chunk-time``.
DEFAULT_BATCH_TIME = 0.5
#: Weight of the latest batch in the smoothed rate.
SMOOTHING = 0.3
#: At most this factor larger from one batch to the next.
GROWTH = 2.0


class BatchSizer:
    """The size of the next batch: fixed, or adapting toward ``target`` seconds."""

    def __init__(self, size, target=None, floor=1, ceiling=None):
        self.target = target
        self.floor = max(1, floor)
        self.ceiling = ceiling
        self.size = self._bounded(size) if target else size
        self.rate = None  # rows per second, smoothed

    @property
    def adaptive(self):
        return bool(self.target)

    def _bounded(self, size):
        size = max(self.floor, int(size))
        return min(size, self.ceiling) if self.ceiling else size

    def measured(self, rows, seconds):
        """A batch of ``rows`` took ``seconds``: size the next one."""
        if not self.adaptive or rows <= 0 or seconds <= 0:
            return
        rate = rows / seconds
        if self.rate is None or seconds > 2 * self.target:
            self.rate = rate  # a batch far over the target: believe it at once
        else:
            self.rate = SMOOTHING * rate + (1 - SMOOTHING) * self.rate
        self.size = self._bounded(min(self.rate * self.target, self.size * GROWTH))

    def halve(self):
        """After a batch hit a timeout: half the size for its retry."""
        self.size = self._bounded(self.size // 2)
        self.rate = None


# -- throttling on database health ------------------------------------------------------------

#: Seconds between looks at the database while it is unhealthy.
HEALTH_POLL_SECONDS = 1.0
#: What --max-health-wait defaults to: how long a walk waits for health before exit 75.
DEFAULT_HEALTH_WAIT = 600.0


class Health:
    """Between batches, wait while the database is unhealthy; give up (75) after ``limit``
    seconds of one wait. Unhealthy: replica lag over ``max_lag`` seconds, more than
    ``max_active`` active backends, or a reason from one of ``checks`` (callables taking the
    connection and returning ``None`` when all is well, else a one-line reason)."""

    def __init__(self, job, connection, max_lag=None, max_active=None, checks=(), limit=None):
        self.job, self.connection = job, connection
        self.backend = backend_for(connection)  # replica lag and activity, where it has them
        self.max_lag, self.max_active = max_lag, max_active
        self.checks = list(checks)
        self.limit = DEFAULT_HEALTH_WAIT if limit is None else limit
        self.waits, self.waited = 0, 0.0
        if max_lag and (blind := self.backend.lag_unseen()):
            job.log_event("max_lag_unseen", "--max-lag reads no lag: %s", blind, level=WARNING)

    @property
    def active(self):
        return bool(self.max_lag or self.max_active or self.checks)

    def problem(self):
        """Why the database is unhealthy now, or ``None``."""
        measured = self.backend.has_health  # else no lag or activity to read
        if measured and self.max_lag and (lag := self.backend.replica_lag()) > self.max_lag:
            return f"replica lag {lag:.1f}s is over --max-lag {self.max_lag:g}s"
        if (
            measured
            and self.max_active
            and (active := self.backend.active_backends()) > self.max_active
        ):
            return f"{active} active backends, over --max-active {self.max_active}"
        for check in self.checks:
            if reason := check(self.connection):
                return str(reason)
        return None

    def wait(self):
        """Return once the database is healthy; raise ``CommandError`` (75) if it stays
        unhealthy for ``limit`` seconds. A stop request still stops the run while it waits."""
        if not self.active or (reason := self.problem()) is None:
            return
        started = time.monotonic()
        self.waits += 1
        self.job.log_event("throttled", "waiting: %s", reason, reason=reason)
        while reason is not None:
            waited = time.monotonic() - started
            if waited >= self.limit:
                self.waited += waited
                raise CommandError(
                    f"gave up after waiting {waited:.0f}s for the database: {reason}",
                    returncode=ExitCode.TEMPORARY,
                )
            STOP.wait(min(HEALTH_POLL_SECONDS, self.limit - waited))  # a signal wakes it
            self.job.check_stop()
            reason = self.problem()
        waited = time.monotonic() - started
        self.waited += waited
        self.job.log_event(
            "unthrottled", "healthy again after %.1fs", waited, waited_s=round(waited, 1)
        )
