"""The options every job gets, and argument types that refuse bad values with exit 2."""

import argparse

from batch_jobs.framework.pacing import DEFAULT_BATCH_TIME, DEFAULT_HEALTH_WAIT
from batch_jobs.framework.shards import Shard


def bounded(convert, what, minimum=0, inclusive=False):
    """An argparse type: ``convert`` the text and require it above (or at) ``minimum``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (value == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    return parse


positive_seconds = bounded(float, "a positive number of seconds")
positive_int = bounded(int, "a positive whole number")
non_negative_seconds = bounded(float, "zero or more seconds", inclusive=True)


def shard(text):
    """An argparse type: ``I/N``, normalized."""
    try:
        return str(Shard.parse(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


class _OwnOptionsFirst:
    """An argument group that adds an option only where the command's parser has none of
    that name: a command's own ``--dry-run`` or ``--batch-size`` wins over the framework's."""

    def __init__(self, parser, group):
        self.parser, self.group = parser, group

    def add_argument(self, *names, **kwargs):
        if not any(name in self.parser._option_string_actions for name in names):
            self.group.add_argument(*names, **kwargs)


def add_job_options(parser, command):
    """Add the framework's options for ``command`` (a ``JobCommand``) to its parser, after
    the command's own (``add_arguments``), leaving out any the command defines itself."""
    declared = command._batch_job
    group = _OwnOptionsFirst(parser, parser.add_argument_group("job options"))
    # BaseCommand adds it only with system checks; a converted command's callers pass it.
    if "--skip-checks" not in parser._option_string_actions:
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")
    if declared.supports_dry_run:
        group.add_argument(
            "--dry-run",
            action="store_true",
            help="Compute and report what would change, and write nothing.",
        )
    if declared.lock:
        group.add_argument(
            "--no-lock",
            action="store_true",
            help="Do not take the overlap lock (only for work that is safe to overlap).",
        )
        group.add_argument(
            "--skip-if-running",
            action="store_true",
            help="Exit 0 instead of 75 when another run of this job holds the lock.",
        )
    if declared.batch_size:
        group.add_argument(
            "--batch-size",
            type=positive_int,
            default=declared.batch_size,
            metavar="N",
            help=f"Rows per batch, each in its own transaction (default {declared.batch_size}).",
        )
        group.add_argument(
            "--batch-time",
            type=positive_seconds,
            nargs="?",
            const=DEFAULT_BATCH_TIME,
            default=declared.batch_time,
            metavar="SECONDS",
            help="Size each batch to take about this long (alone: "
            f"{DEFAULT_BATCH_TIME:g}), from a smoothed rows-per-second; --batch-size is then "
            f"the first batch's size. Sizes stay within {declared.min_batch_size} and "
            f"{declared.max_batch_size}.",
        )
        group.add_argument(
            "--max-lag",
            type=positive_seconds,
            metavar="SECONDS",
            help="Wait between batches while a streaming replica's replay lag, as the primary "
            "sees it, is over this (the role needs pg_monitor).",
        )
        group.add_argument(
            "--max-active",
            type=positive_int,
            metavar="N",
            help="Wait between batches while more than N other backends are running a statement.",
        )
        group.add_argument(
            "--max-health-wait",
            type=positive_seconds,
            default=DEFAULT_HEALTH_WAIT,
            metavar="SECONDS",
            help="Give up (exit 75, the checkpoint kept) after waiting this long for the "
            f"database to be healthy (default {DEFAULT_HEALTH_WAIT:g}).",
        )
        group.add_argument(
            "--restart",
            action="store_true",
            help="Ignore the checkpoint of an unfinished earlier run and start from the top.",
        )
        group.add_argument(
            "--shard",
            type=shard,
            metavar="I/N",
            help="Walk only shard I of N (I counts from 0): the walk's keys split into N "
            "ranges of about as many rows, each with its own checkpoint and lock. In a "
            "Kubernetes Indexed Job, JOB_COMPLETION_INDEX and JOB_SHARDS set it.",
        )
        group.add_argument(
            "--throttle",
            type=non_negative_seconds,
            default=0.0,
            metavar="SECONDS",
            help="Pause between batches, to spare a database that also serves users.",
        )
    limit = declared.max_runtime
    group.add_argument(
        "--max-runtime",
        type=positive_seconds,
        default=limit,
        metavar="SECONDS",
        help="Stop at the first batch boundary after this many seconds and exit 75, "
        "so that a scheduler retries and the next run resumes"
        + (f" (default {limit:g}, the job's max_runtime)." if limit else "."),
    )
