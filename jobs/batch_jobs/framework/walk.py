"""The batch walk: keyset pagination, one transaction per batch, checkpoints.

``walk(job, queryset, process)`` (``JobCommand.run_batches``) walks ``queryset`` in key order,
``--batch-size`` rows at a time (``key > last ORDER BY key LIMIT n``; never OFFSET), and calls
``process(batch)`` inside the batch's own transaction. The checkpoint (job, arguments hash,
last key, counters) is written in that same transaction, so a rerun after any stop resumes
exactly after the last committed batch. Two write paths fit inside ``process``:

* set-based: ``batch.queryset.filter(...).update(field=<expression>)``, one ``UPDATE`` per key
  range, for changes SQL can express;
* Python: compute new values per row, then ``update_rows(model, fields, rows)``, one
  ``COPY`` and one ``UPDATE ... FROM`` per batch (not ``bulk_update``'s ``CASE WHEN`` per row).
"""

import dataclasses
import hashlib
import json
import time
from collections import Counter

from django.db import connections, router, transaction

from batch_jobs.backends import backend_for
from batch_jobs.framework.pacing import BatchSizer, Health, timed_out
from batch_jobs.framework.redact import DJANGO_DEFAULT_OPTIONS
from batch_jobs.framework.shards import Plans, Shard
from batch_jobs.framework.stop import STOP
from batch_jobs.models import JobCheckpoint

# Options that change how a run goes, not what it walks: a rerun with other values resumes.
_NOT_PART_OF_THE_WALK = DJANGO_DEFAULT_OPTIONS | {
    "batch_size",
    "batch_time",
    "max_lag",
    "max_active",
    "max_health_wait",
    "throttle",
    "dry_run",
    "restart",
    "no_lock",
    "skip_if_running",
    "max_runtime",
}


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


def update_rows(model, fields, rows, key="pk"):
    """Write ``rows`` (tuples ``(key, *values)`` for ``fields``) in one round of statements.

    On PostgreSQL the rows stream with ``COPY`` (through psycopg 3 or psycopg 2) into a
    temporary table of the session, and one ``UPDATE ... FROM`` it applies them: no SQL text
    grows with the batch. Elsewhere, ``bulk_update``. Returns the number of rows updated.
    """
    if not rows:
        return 0
    using = router.db_for_write(model)
    return backend_for(connections[using]).update_rows(model, fields, rows, key, using)


class Checkpoints:
    """Loading, saving and clearing one job's checkpoint on the job's own connection."""

    def __init__(self, job, options, using):
        self.job = job
        self.hash = arguments_hash(options)
        self.objects = JobCheckpoint.objects.using(using)

    def load(self):
        return self.objects.filter(job=self.job, arguments_hash=self.hash).first()

    def save(self, last_key, counters, rows):
        # One INSERT ... ON CONFLICT DO UPDATE: it runs once per batch, so it stays cheap.
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
            unique_fields=["job", "arguments_hash"],
            update_fields=["last_key", "counters", "rows", "updated_at"],
        )

    def clear(self):
        self.objects.filter(job=self.job, arguments_hash=self.hash).delete()


def walk(job, queryset, process, *, fields=(), key="pk", total=None):
    """Walk ``queryset`` in batches and call ``process(batch)`` in each one's transaction.

    ``job`` is the running ``JobCommand``: its options (``--batch-size``, ``--restart``,
    ``--throttle``), dry-run flag, counters, stop checks, transactions and progress.
    ``job.counters`` count what this run does; the checkpoint, ``job.walk_totals`` and the run
    record's ``walk`` count the whole walk, earlier runs included.
    """
    run = job._job_run
    options, counters, using = run.options, run.counters, queryset.db
    checkpoints = Checkpoints(job.job_name, options, using=using)
    after = resumed_after = None
    earlier = Counter()  # what earlier runs of this walk counted: this run's are job.counters
    rows_before = 0
    shard = Shard.parse(options["shard"]) if options.get("shard") else None
    if shard is not None:
        plans = Plans(job.job_name, arguments_hash(options, shard=False), shard, using)
        queryset = plans.scope(queryset, key, restart=options.get("restart"), dry_run=job.dry_run)
        if queryset is None:
            job.log_event(
                "shard_walked",
                "shard %s has walked its range; it walks again when every shard of this walk "
                "has finished (or with --restart)",
                shard,
                shard=str(shard),
            )
            run.walk_stands(None, None, Counter(), done=True)
            return
    if options.get("restart") and not job.dry_run:
        checkpoints.clear()
    elif not job.dry_run and (checkpoint := checkpoints.load()) is not None:
        after = resumed_after = checkpoint.last_key
        earlier.update(checkpoint.counters)
        rows_before = checkpoint.rows
        job.log_event(
            "resume", "resuming after key %s", after, last_key=after, walked=dict(earlier)
        )
    run.walk_totals = Counter(earlier)
    declared = job._batch_job
    sizer = BatchSizer(
        options.get("batch_size") or declared.batch_size,
        target=options.get("batch_time"),
        floor=declared.min_batch_size,
        ceiling=declared.max_batch_size,
    )
    health = Health(
        job,
        connections[using],
        max_lag=options.get("max_lag"),
        max_active=options.get("max_active"),
        checks=job.get_health_checks(),
        limit=options.get("max_health_wait"),
    )
    estimated = total is None
    if estimated:
        total = estimated_rows(queryset)
        if total and shard is not None:
            total = -(-total // shard.count)  # the plan gives each shard about as many rows
    progress = job.progress(total=total, before=rows_before, estimated=estimated)
    retried = False

    def stands():  # where the walk stands, and how it was paced, for the run record
        pacing = {"batch_size": sizer.size}
        if health.waits:
            pacing |= {"health_waits": health.waits, "health_wait_s": round(health.waited, 1)}
        run.walk_stands(resumed_after, after, run.walk_totals, done=False, **pacing)

    try:
        while True:
            job.check_stop()
            try:
                health.wait()
            finally:
                if health.waits:  # a wait that gave up (75) is counted too
                    stands()
            before = counters.copy()
            started = time.monotonic()
            try:
                with job.atomic(using=using):
                    batch = next_batch(queryset, fields, key, after, sizer.size)
                    if batch is None:
                        break
                    process(batch)
                    totals = Counter(earlier)
                    totals.update(counters)
                    if job.dry_run:
                        transaction.set_rollback(True, using=using)
                    else:
                        checkpoints.save(
                            batch.last_key, totals, rows_before + progress.done + len(batch)
                        )
            except BaseException as exc:
                # The batch rolled back, and so do its counts.
                counters.clear()
                counters.update(before)
                # A server-side timeout: once, at half the size; a second in a row is 75.
                if sizer.adaptive and not retried and timed_out(exc, connections[using]):
                    retried = True
                    failed_size = sizer.size
                    sizer.halve()
                    job.log_event(
                        "batch_timeout",
                        "a batch of %s rows timed out; retrying it at %s",
                        failed_size,
                        sizer.size,
                        batch_size=sizer.size,
                    )
                    continue
                raise
            retried = False
            sizer.measured(len(batch), time.monotonic() - started)
            after = batch.last_key
            run.walk_totals = totals
            stands()
            if sizer.adaptive:
                progress.extra["batch_size"] = sizer.size
            progress.advance(len(batch))
            STOP.batch_done()  # batch_jobs.testing's stop_after_batches
            if options.get("throttle"):
                STOP.wait(options["throttle"])  # a stop signal ends the pause at once
    finally:
        progress.close()
    run.walk_stands(resumed_after, after, run.walk_totals, done=True)
    if not job.dry_run:
        with transaction.atomic(using=using):  # both or neither: a crash here redoes nothing
            checkpoints.clear()
            if shard is not None:
                plans.finish()


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
