"""The batch walk: keyset pagination, one transaction per batch, checkpoints.

``Walk(job, queryset, process).run()`` (``JobCommand.run_batches``) walks ``queryset`` in key
order, ``--batch-size`` rows at a time (``key > last ORDER BY key LIMIT n``; never OFFSET),
and calls ``process(batch)`` inside the batch's own transaction. The checkpoint (job,
arguments hash, last key, counters) is written in that same transaction, so a rerun after any
stop resumes exactly after the last committed batch. The write paths that fit inside
``process`` are in ``batch_jobs.framework.writes``.

Which options identify a walk (a rerun with other values walks anew) and which only change
how it goes (a rerun resumes) is declared once, with each option, in
``batch_jobs.framework.arguments.JOB_OPTIONS``; a job's own options are all part of its walk.
"""

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import time
from collections import Counter

from django.db import connections, transaction

from batch_jobs.backends import backend_for
from batch_jobs.framework import dryrun
from batch_jobs.framework.arguments import JOB_OPTIONS
from batch_jobs.framework.outcome import TooMuchLeft
from batch_jobs.framework.pacing import BatchSizer, Health
from batch_jobs.framework.redact import DJANGO_DEFAULT_OPTIONS
from batch_jobs.framework.shards import Plans, Shard
from batch_jobs.framework.stop import STOP
from batch_jobs.models import JobCheckpoint

# Options that change how a run goes, not what it walks: a rerun with other values resumes.
_NOT_PART_OF_THE_WALK = DJANGO_DEFAULT_OPTIONS | {
    option.dest for option in JOB_OPTIONS if not option.part_of_the_walk
}

#: Set by a migration gate (``batch_jobs.framework.gates``) around its inline run: the most
#: rows left the walk may walk; with more, it stops before its first batch (``TooMuchLeft``).
INLINE_LIMIT = contextvars.ContextVar("INLINE_LIMIT", default=None)


@dataclasses.dataclass
class Batch:
    """One batch: ``rows`` are tuples ``(key, *fields)``; ``queryset`` is its key range."""

    rows: list
    queryset: object
    first_key: object
    last_key: object

    def __len__(self):
        return len(self.rows)


def arguments_hash(options, shard=True):
    """What identifies a walk: its arguments, less those that only change how it goes. A
    shard is part of it (each has its checkpoint) unless ``shard`` is false (the plan's)."""
    walked = {
        k: v
        for k, v in options.items()
        if k not in _NOT_PART_OF_THE_WALK and not (k == "shard" and (v is None or not shard))
    }
    encoded = json.dumps(walked, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


class Checkpoints:
    """Loading, saving and clearing one job's checkpoint on the job's own connection."""

    def __init__(self, job, options, using):
        self.job = job
        self.hash = arguments_hash(options)
        self.objects = JobCheckpoint.objects.using(using)
        # MariaDB and MySQL's ON DUPLICATE KEY UPDATE takes no conflict target: it updates on
        # any unique key, and (job, arguments_hash) is the table's only one besides the id.
        features = connections[using].features
        self.target = (
            {"unique_fields": ["job", "arguments_hash"]}
            if features.supports_update_conflicts_with_target
            else {}
        )

    def load(self):
        return self.objects.filter(job=self.job, arguments_hash=self.hash).first()

    def save(self, last_key, counters, rows):
        # One INSERT ... ON CONFLICT DO UPDATE (ON DUPLICATE KEY UPDATE): it runs once per
        # batch, so it stays cheap.
        checkpoint = JobCheckpoint(
            job=self.job,
            arguments_hash=self.hash,
            last_key=last_key,
            counters=dict(counters),
            rows=rows,
        )
        self.objects.bulk_create(
            [checkpoint],
            update_conflicts=True,
            update_fields=["last_key", "counters", "rows", "updated_at"],
            **self.target,
        )

    def clear(self):
        self.objects.filter(job=self.job, arguments_hash=self.hash).delete()


class Walk:
    """One walk of ``queryset`` for ``job`` (the running ``JobCommand``), a step per method:
    ``plan`` (a shard's key range), ``resume`` (the checkpoint), ``pace`` (health waits and
    the throttle), ``process`` (one batch in its transaction), ``checkpoint`` and ``finish``.

    ``job.counters`` count what this run does, ``earlier`` what earlier runs of the same walk
    did (from the checkpoint): the whole walk's counters are their sum, ``totals()``, from
    which the checkpoint, ``job.walk_totals`` and the run record's ``walk`` are written.
    """

    def __init__(self, job, queryset, process, *, fields=(), key="pk"):
        self.job, self.job_run = job, job._job_run
        self.queryset, self.process_batch, self.fields, self.key = queryset, process, fields, key
        self.options, self.counters = self.job_run.options, self.job_run.counters
        self.using = queryset.db
        self.checkpoints = Checkpoints(job.job_name, self.options, using=self.using)
        self.shard = Shard.parse(self.options["shard"]) if self.options.get("shard") else None
        self.plans = None
        self.earlier = Counter()
        self.resumed_after = self.after = None
        self.rows_before = 0  # rows earlier runs of this walk walked
        self.retried = False  # the last batch timed out and is being retried at half the size
        self.sizer = self.health = self.progress = None

    @property
    def dry_run(self):
        return self.job_run.dry_run  # not the job's reading of it (framework/dryrun.py)

    def totals(self):
        """The whole walk's counters: earlier runs' and this run's."""
        totals = Counter(self.earlier)
        totals.update(self.counters)
        return totals

    def run(self, total=None):
        """Walk every batch, then finish; ``total`` rows, else an estimate, for progress."""
        if not self.plan():
            return
        self.resume()
        self.within_inline_limit()
        self.sizer, self.health = self.pacing()
        self.progress = self.start_progress(total)
        try:
            while True:
                self.job.check_stop()
                self.pace()
                try:
                    batch = self.process()
                except BaseException as exc:
                    if self.retry_smaller(exc):
                        continue
                    raise
                if batch is None:
                    break
                self.advance(batch)
                STOP.batch_done()  # batch_jobs.testing's stop_after(n) counts it
                self.throttle()
        finally:
            self.progress.close()
        self.finish()

    # -- the steps -----------------------------------------------------------------------

    def plan(self):
        """Narrow the walk to its shard's key range; ``False`` when the shard has walked it."""
        if self.shard is None:
            return True
        self.plans = Plans(
            self.job.job_name, arguments_hash(self.options, shard=False), self.shard, self.using
        )
        self.queryset = self.plans.scope(
            self.queryset, self.key, restart=self.options.get("restart"), dry_run=self.dry_run
        )
        if self.queryset is not None:
            return True
        self.job.log_event(
            "shard_walked",
            "shard %s has walked its range; it walks again when every shard of this walk "
            "has finished (or with --restart)",
            self.shard,
            shard=str(self.shard),
        )
        self.job_run.walk_stands(None, None, Counter(), done=True)
        return False

    def resume(self):
        """Start after the checkpoint of an unfinished earlier run, unless ``--restart`` (which
        clears it) or a dry run (which neither reads nor writes one)."""
        if self.options.get("restart") and not self.dry_run:
            self.checkpoints.clear()
        elif not self.dry_run and (checkpoint := self.checkpoints.load()) is not None:
            self.after = self.resumed_after = checkpoint.last_key
            self.earlier.update(checkpoint.counters)
            self.rows_before = checkpoint.rows
            self.job.log_event(
                "resume",
                "resuming after key %s",
                self.after,
                last_key=self.after,
                walked=dict(self.earlier),
            )
        self.job_run.walk_totals = Counter(self.earlier)  # none of this run's yet

    def within_inline_limit(self):
        """Inside a migration gate's inline run: go on only with at most ``INLINE_LIMIT``
        rows left. The estimate of the table (less what earlier runs walked) decides when it
        is small enough; else a count of what is left, bounded by the limit."""
        limit = INLINE_LIMIT.get()
        if limit is None or self.dry_run:
            return
        estimate = estimated_rows(self.queryset)
        if estimate is not None and estimate - self.rows_before <= limit:
            return
        left = self.queryset.order_by()
        if self.after is not None:
            left = left.filter(**{f"{self.key}__gt": self.after})
        if left.values(self.key)[: limit + 1].count() <= limit:
            return
        total = estimate if estimate is not None else None
        raise TooMuchLeft(
            f"more than {limit} rows left ({self.rows_before} walked"
            + (f" of ~{total})" if total else ")")
            + f"; a migration gate walks at most {limit} inside migrate",
            done=self.rows_before,
            total=total,
        )

    def start_progress(self, total):
        """The walk's progress: of ``total`` rows, else of an estimate of them."""
        estimated = total is None
        if estimated:
            total = estimated_rows(self.queryset)
            if total and self.shard is not None:
                total = -(-total // self.shard.count)  # the plan gives each shard about as many
        return self.job.progress(total=total, before=self.rows_before, estimated=estimated)

    def pacing(self):
        """The batch sizer (``--batch-size``, ``--batch-time``) and the health waits
        (``--max-lag``, ``--max-active``, the health checks, ``--max-health-wait``)."""
        declared = self.job._batch_job
        sizer = BatchSizer(
            self.options.get("batch_size") or declared.batch_size,
            target=self.options.get("batch_time"),
            floor=declared.min_batch_size,
            ceiling=declared.max_batch_size,
        )
        health = Health(
            self.job,
            connections[self.using],
            max_lag=self.options.get("max_lag"),
            max_active=self.options.get("max_active"),
            checks=self.job.get_health_checks(),
            limit=self.options.get("max_health_wait"),
        )
        return sizer, health

    def pace(self):
        """Before a batch: wait while the database is unhealthy (75 when it stays so)."""
        try:
            self.health.wait()
        finally:
            if self.health.waits:  # a wait that gave up (75) is counted too
                self.stands()

    def throttle(self):
        """After a batch: ``--throttle``'s pause; a stop signal ends it at once."""
        if self.options.get("throttle"):
            STOP.wait(self.options["throttle"])

    def process(self):
        """Process the next batch in its own transaction, with its checkpoint; ``None`` at
        the end. A batch that raises rolls back, and so do the counts it made."""
        before = self.counters.copy()
        started = time.monotonic()
        try:
            with self.job.atomic(using=self.using), self.rolled_back_if_dry():
                batch = next_batch(
                    self.queryset, self.fields, self.key, self.after, self.sizer.size
                )
                if batch is None:
                    return None
                self.process_batch(batch)
                self.checkpoint(batch)
        except BaseException:
            self.counters.clear()
            self.counters.update(before)
            raise
        self.retried = False
        self.sizer.measured(len(batch), time.monotonic() - started)
        return batch

    def retry_smaller(self, exc):
        """Whether to retry a batch that failed with ``exc``: a server-side timeout, once, at
        half the size; a second in a row is 75."""
        if not self.sizer.adaptive or self.retried:
            return False
        if not backend_for(connections[self.using]).timed_out(exc):
            return False
        self.retried = True
        failed_size = self.sizer.size
        self.sizer.halve()
        self.job.log_event(
            "batch_timeout",
            "a batch of %s rows timed out; retrying it at %s",
            failed_size,
            self.sizer.size,
            batch_size=self.sizer.size,
        )
        return True

    def rolled_back_if_dry(self):
        """A dry run's batch may write: ``checkpoint`` rolls its transaction back."""
        return dryrun.rolled_back(self.using) if self.dry_run else contextlib.nullcontext()

    def checkpoint(self, batch):
        """In the batch's transaction: save where the walk stands; a dry run rolls back."""
        if self.dry_run:
            transaction.set_rollback(True, using=self.using)
        else:
            rows = self.rows_before + self.progress.done + len(batch)
            self.checkpoints.save(batch.last_key, self.totals(), rows)

    def advance(self, batch):
        """After a batch's commit: the walk's counters, record and progress move on."""
        self.after = batch.last_key
        self.job_run.walk_totals = self.totals()
        self.stands()
        if self.sizer.adaptive:
            self.progress.extra["batch_size"] = self.sizer.size
        self.progress.advance(len(batch))

    def stands(self):
        """Where the walk stands, and how it was paced, for the run record."""
        pacing = {"batch_size": self.sizer.size}
        if self.health.waits:
            pacing |= {
                "health_waits": self.health.waits,
                "health_wait_s": round(self.health.waited, 1),
            }
        self.job_run.walk_stands(
            self.resumed_after, self.after, self.job_run.walk_totals, done=False, **pacing
        )

    def finish(self):
        """The walk is done: the record says so, and the checkpoint (and a shard's part of
        the plan) goes."""
        self.job_run.walk_stands(
            self.resumed_after, self.after, self.job_run.walk_totals, done=True
        )
        if not self.dry_run:
            with transaction.atomic(using=self.using):  # both or neither: a crash redoes nothing
                self.checkpoints.clear()
                if self.plans is not None:
                    self.plans.finish()


def walk(job, queryset, process, *, fields=(), key="pk", total=None):
    """Walk ``queryset`` in batches and call ``process(batch)`` in each one's transaction."""
    Walk(job, queryset, process, fields=fields, key=key).run(total)


def estimated_rows(queryset):
    """An estimate of the rows in ``queryset``'s table (PostgreSQL's ``pg_class.reltuples``,
    kept by VACUUM and ANALYZE), or ``None``: no estimate yet, or another database. An
    estimate of the whole table, so an upper bound for a filtered queryset."""
    return backend_for(connections[queryset.db]).estimated_rows(queryset)


def next_batch(queryset, fields, key, after, batch_size):
    """The batch after key ``after`` (keyset pagination), or ``None`` at the end."""
    page = queryset.order_by(key)
    if after is not None:
        page = page.filter(**{f"{key}__gt": after})
    rows = list(page.values_list(key, *fields)[:batch_size])
    if not rows:
        return None
    in_range = {f"{key}__lte": rows[-1][0]}
    if after is not None:
        in_range[f"{key}__gt"] = after
    return Batch(rows, queryset.filter(**in_range), rows[0][0], rows[-1][0])
