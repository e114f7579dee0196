"""Sharded walks: one batch walk split into N disjoint key ranges, each walked by its own run.

``--shard I/N`` (0 <= I < N), or Kubernetes' ``JOB_COMPLETION_INDEX`` with ``JOB_SHARDS`` in
an Indexed Job, makes a run walk only shard I's range. The ranges come from a plan that the
first shard of a walk computes from the real key distribution (the quantiles of the
queryset's keys, PostgreSQL's ``percentile_disc``, so that each range holds about as many rows)
and saves; every other shard of that walk reads the same plan, so the ranges never overlap
and leave nothing out, whatever rows come and go meanwhile. The first range is open below and
the last open above, so rows added after planning are walked too.

Each shard has its own checkpoint (the shard is one of the walk's arguments) and its own
overlap lock, so a shard that dies resumes alone and two runs of one shard never overlap. A
shard that finishes marks itself in the plan; when every shard has, the plan goes, and the
next walk plans anew. Until then, a rerun of a finished shard has nothing to do.
"""

import dataclasses
import os
import re

from django.core.management.base import CommandError
from django.db import IntegrityError, connections, transaction

from batch_jobs.backends import backend_for
from batch_jobs.exitcodes import ExitCode
from batch_jobs.models import JobShardPlan

_SHARD = re.compile(r"(\d+)/(\d+)")


@dataclasses.dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self):
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text):
        """``"1/4"`` -> ``Shard(1, 4)``; ``ValueError`` naming the rule otherwise."""
        match = _SHARD.fullmatch(str(text).strip())
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise ValueError(f"must be I/N with 0 <= I < N (I counts from 0), not {text!r}")
        return cls(int(match[1]), int(match[2]))


def from_environment(environ=os.environ):
    """The shard a Kubernetes Indexed Job gives this pod (``JOB_COMPLETION_INDEX`` of
    ``JOB_SHARDS``, which the rendered Job sets), as ``"I/N"``, or ``None``."""
    index, count = environ.get("JOB_COMPLETION_INDEX"), environ.get("JOB_SHARDS")
    if index is None or not count:
        return None
    try:
        return str(Shard.parse(f"{index}/{count}"))
    except ValueError as e:
        raise CommandError(
            f"JOB_COMPLETION_INDEX={index!r} and JOB_SHARDS={count!r}: the shard {e}",
            returncode=ExitCode.CONFIG,
        ) from None


def cut_points(queryset, key, count):
    """The ``count - 1`` keys that split ``queryset`` into ``count`` ranges of about as many
    rows: the i/count quantiles of its keys. One sorting scan of the keys."""
    if count == 1:
        return []
    keys = queryset.order_by().values_list(key, flat=True)
    fractions = [i / count for i in range(1, count)]
    return backend_for(connections[queryset.db]).key_quantiles(keys, key, fractions)


class Plans:
    """The plan of one sharded walk, on the data's connection (like its checkpoints)."""

    def __init__(self, job, walk_hash, shard, using):
        self.job, self.hash, self.shard = job, walk_hash, shard
        self.objects = JobShardPlan.objects.using(using)
        self.using = using

    def _mine(self):
        return self.objects.filter(job=self.job, arguments_hash=self.hash, shards=self.shard.count)

    def scope(self, queryset, key, restart=False, dry_run=False):
        """``queryset`` limited to this shard's range of the walk's plan, or ``None`` when
        this shard has walked it already (``restart`` walks it again)."""
        if restart and not dry_run:
            self.reopen()
        plan = self.get_or_plan(queryset, key, save=not dry_run)
        if self.shard.index in plan.finished:
            return None
        return key_range(queryset, key, plan.bounds, self.shard.index)

    def get_or_plan(self, queryset, key, save=True):
        """The walk's plan: the saved one, else a new one (saved unless ``save`` is false,
        for a dry run)."""
        plan = self._mine().first()
        if plan is not None:
            return plan
        plan = JobShardPlan(
            job=self.job,
            arguments_hash=self.hash,
            shards=self.shard.count,
            bounds=cut_points(queryset, key, self.shard.count),
            finished=[],
        )
        if not save:
            return plan
        try:
            with transaction.atomic(using=self.using):
                plan.save(using=self.using)
        except IntegrityError:  # another shard planned first: its plan is the walk's
            return self._mine().get()
        return plan

    def finish(self):
        """Mark this shard's range walked; the last shard to finish ends the plan."""
        with transaction.atomic(using=self.using):
            plan = self._mine().select_for_update().first()
            if plan is None:
                return
            finished = sorted({*plan.finished, self.shard.index})
            if len(finished) >= plan.shards:
                plan.delete()
            else:
                plan.finished = finished
                plan.save(using=self.using, update_fields=["finished"])

    def reopen(self):
        """``--restart``: this shard walks its range again."""
        with transaction.atomic(using=self.using):
            plan = self._mine().select_for_update().first()
            if plan is not None and self.shard.index in plan.finished:
                plan.finished = [i for i in plan.finished if i != self.shard.index]
                plan.save(using=self.using, update_fields=["finished"])


def key_range(queryset, key, bounds, index):
    """``queryset`` limited to range ``index`` of the cut points ``bounds``."""
    if index > 0:
        queryset = queryset.filter(**{f"{key}__gt": bounds[index - 1]})
    if index < len(bounds):
        queryset = queryset.filter(**{f"{key}__lte": bounds[index]})
    return queryset
