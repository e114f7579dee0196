"""The options every job gets, and argument types that refuse bad values with exit 2."""

import argparse
import dataclasses
import weakref
from collections.abc import Callable

from batch_jobs.conf import MAX_SECONDS, setting
from batch_jobs.framework.pacing import DEFAULT_BATCH_TIME, DEFAULT_HEALTH_WAIT
from batch_jobs.framework.redact import has_control
from batch_jobs.framework.shards import Shard


def bounded(convert, what, minimum=0, inclusive=False, maximum=None):
    """An argparse type: ``convert`` the text and require it above (or at) ``minimum``, and
    at most ``maximum`` when given (``nan`` is in no range)."""

    def parse(text):
        try:
            value = convert(text)
        except (ValueError, OverflowError):
            value = None
        if value is None or not (value >= minimum if inclusive else value > minimum):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        if maximum is not None and not value <= maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:.0f}, not {text!r}")
        return value

    parse.what = what  # what a form says the value is
    return parse


# Durations stop at what ``threading`` can wait for (batch_jobs.conf.MAX_SECONDS).
positive_seconds = bounded(float, "a positive number of seconds", maximum=MAX_SECONDS)
positive_int = bounded(int, "a positive whole number")
non_negative_seconds = bounded(float, "zero or more seconds", inclusive=True, maximum=MAX_SECONDS)


def email_address(text):
    """An argparse type: one e-mail address, as Django's ``EmailField`` accepts it (at most
    254 characters, no display name, no line break: nothing that could add a header)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    shown = text if len(text) <= 80 else text[:77] + "..."
    if len(text) > 254:
        raise argparse.ArgumentTypeError(
            f"must be an e-mail address of 254 characters at most, not {shown!r}"
        )
    try:
        validate_email(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"must be an e-mail address (name@example.com), not {shown!r}"
        ) from None
    return text


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
        self.added = set()

    def add_argument(self, *names, **kwargs):
        if not any(name in self.parser._option_string_actions for name in names):
            self.group.add_argument(*names, **kwargs)
            self.added.update(names)


@dataclasses.dataclass(frozen=True)
class JobOption:
    """One option the framework gives a job. ``needs`` names the declaration that adds it
    (``""``: every job); ``part_of_the_walk`` says whether a rerun with another value walks
    anew (its own checkpoint) or resumes the same walk (``batch_jobs.framework.walk``
    derives the walk's identity from it, so every option must decide); ``spec(declared)``
    gives ``add_argument``'s keywords for the command's resolved ``class Job``."""

    flag: str
    needs: str
    part_of_the_walk: bool
    spec: Callable

    @property
    def dest(self):
        return self.flag.removeprefix("--").replace("-", "_")


#: The framework's options, in the order ``--help`` lists them.
JOB_OPTIONS = (
    JobOption(
        "--dry-run",
        "supports_dry_run",
        False,
        lambda declared: dict(
            action="store_true",
            help="Compute and report what would change, and write nothing.",
        ),
    ),
    JobOption(
        "--no-lock",
        "lock",
        False,
        lambda declared: dict(
            action="store_true",
            help="Do not take the overlap lock (only for work that is safe to overlap).",
        ),
    ),
    JobOption(
        "--skip-if-running",
        "lock",
        False,
        lambda declared: dict(
            action="store_true",
            help="Exit 0 instead of 75 when another run of this job holds the lock.",
        ),
    ),
    JobOption(
        "--batch-size",
        "batch_size",
        False,
        lambda declared: dict(
            type=positive_int,
            default=declared.batch_size,
            metavar="N",
            help=f"Rows per batch, each in its own transaction (default {declared.batch_size}).",
        ),
    ),
    JobOption(
        "--batch-time",
        "batch_size",
        False,
        lambda declared: dict(
            type=positive_seconds,
            nargs="?",
            const=DEFAULT_BATCH_TIME,
            default=declared.batch_time,
            metavar="SECONDS",
            help="Size each batch to take about this long (alone: "
            f"{DEFAULT_BATCH_TIME:g}), from a smoothed rows-per-second; --batch-size is then "
            f"the first batch's size. Sizes stay within {declared.min_batch_size} and "
            f"{declared.max_batch_size}.",
        ),
    ),
    JobOption(
        "--max-lag",
        "batch_size",
        False,
        lambda declared: dict(
            type=positive_seconds,
            metavar="SECONDS",
            help="Wait between batches while a streaming replica's replay lag, as the primary "
            "sees it, is over this (the role needs pg_monitor).",
        ),
    ),
    JobOption(
        "--max-active",
        "batch_size",
        False,
        lambda declared: dict(
            type=positive_int,
            metavar="N",
            help="Wait between batches while more than N other backends are running a statement.",
        ),
    ),
    JobOption(
        "--max-health-wait",
        "batch_size",
        False,
        lambda declared: dict(
            type=positive_seconds,
            default=DEFAULT_HEALTH_WAIT,
            metavar="SECONDS",
            help="Give up (exit 75, the checkpoint kept) after waiting this long for the "
            f"database to be healthy (default {DEFAULT_HEALTH_WAIT:g}).",
        ),
    ),
    JobOption(
        "--restart",
        "batch_size",
        False,
        lambda declared: dict(
            action="store_true",
            help="Ignore the checkpoint of an unfinished earlier run and start from the top.",
        ),
    ),
    JobOption(
        "--shard",
        "batch_size",
        True,  # each shard has a checkpoint of its own
        lambda declared: dict(
            type=shard,
            metavar="I/N",
            help="Walk only shard I of N (I counts from 0): the walk's keys split into N "
            "ranges of about as many rows, each with its own checkpoint and lock. In a "
            "Kubernetes Indexed Job, JOB_COMPLETION_INDEX and JOB_SHARDS set it.",
        ),
    ),
    JobOption(
        "--throttle",
        "batch_size",
        False,
        lambda declared: dict(
            type=non_negative_seconds,
            default=0.0,
            metavar="SECONDS",
            help="Pause between batches, to spare a database that also serves users.",
        ),
    ),
    JobOption(
        "--max-runtime",
        "",
        False,
        lambda declared: dict(
            type=positive_seconds,
            default=declared.max_runtime,
            metavar="SECONDS",
            help="Stop at the first batch boundary after this many seconds and exit 75, "
            "so that a scheduler retries and the next run resumes"
            + (
                f" (default {declared.max_runtime:g}, the job's max_runtime)."
                if declared.max_runtime
                else "."
            ),
        ),
    ),
)


def add_job_options(parser, command):
    """Add the framework's options for ``command`` (a ``JobCommand``) to its parser, after
    the command's own (``add_arguments``), leaving out any the command defines itself."""
    declared = command._batch_job
    group = _OwnOptionsFirst(parser, parser.add_argument_group("job options"))
    # BaseCommand adds it only with system checks; a converted command's callers pass it.
    if "--skip-checks" not in parser._option_string_actions:
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")
    for option in JOB_OPTIONS:
        if not option.needs or getattr(declared, option.needs):
            group.add_argument(option.flag, **option.spec(declared))
    _ADDED[type(command)] = frozenset(group.added)


#: Command class -> the option strings the framework added to its parser.
_ADDED = weakref.WeakKeyDictionary()


def framework_added(command, flag):
    """Whether the framework, not the command, gave ``command`` option ``flag``."""
    return flag in _ADDED.get(type(command), ())


class StoredFile(str):
    """An argparse type: a file the job reads, either a local path or a name in Django's
    storage (``STORAGES``, the alias ``JOB_UPLOAD_STORAGE``), told apart by a prefix:

    * ``storage:NAME``: ``NAME`` in the storage, read through the storage API (so S3 through
      django-storages reads as a local file does). The console's Run form saves an upload
      there and passes this;
    * anything else: a local path, as before (``./storage:x`` for a local file whose name
      starts with ``storage:``).

    The value is the text given (what the run record shows); ``open(mode="rb")`` opens it
    either way. Nothing is read when the command line is parsed: a file that cannot be read
    is the job's to report (``OSError`` from ``open``), as with a path it opens itself. A
    storage name that no storage could hold (empty, absolute, ``..``, a control character)
    is refused with exit 2.
    """

    __slots__ = ()
    PREFIX = "storage:"

    def __new__(cls, text):
        value = super().__new__(cls, text)
        if value.stored:
            problem = storage_name_problem(value.name)
            if problem:
                raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a storage name: {problem}")
        elif not text:
            raise argparse.ArgumentTypeError("a file is needed, not an empty path")
        return value

    @property
    def stored(self):
        """Whether the file is in Django's storage, not a local path."""
        return self.startswith(self.PREFIX)

    @property
    def name(self):
        """The storage name, or the local path."""
        return self[len(self.PREFIX) :] if self.stored else str(self)

    @property
    def storage(self):
        return upload_storage()

    def open(self, mode="rb"):
        """The file, opened for reading (``OSError`` when it cannot be)."""
        if not self.stored:
            return open(self.name, mode)
        return self.storage.open(self.name, mode)


def upload_storage():
    """The storage of ``storage:NAME`` arguments and uploads: ``JOB_UPLOAD_STORAGE``."""
    from django.core.files.storage import storages

    return storages[setting("JOB_UPLOAD_STORAGE")]


def storage_name_problem(name):
    """Why ``name`` cannot be a name in a storage, or ``""``: it must be relative, with no
    empty, ``.`` or ``..`` part, no backslash and no control character."""
    if not name:
        return "it is empty"
    if has_control(name) or "\\" in name:
        return "it holds a control character or a backslash"
    if name.startswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
        return "it must be a relative name without empty, '.' or '..' parts"
    return ""
