"""A job's declarations: the ``class Job:`` nested in its command, resolved once per class.

The declarations live in a namespace of their own, as a model's ``Meta`` does, so that none of
them takes a name a command already uses: a converted command keeps its own ``schedule`` or
``batch_size`` attribute, and the framework reads only ``class Job``. ``resolve`` merges the
``class Job`` of every class along the MRO (a subclass's win), checks the names and values,
and returns a frozen ``Declaration``.
"""

import dataclasses
import types

from django.core.exceptions import ImproperlyConfigured

from batch_jobs.conf import seconds
from batch_jobs.framework import schedule


@dataclasses.dataclass(frozen=True)
class Declaration:
    """What a job declares in ``class Job:`` (see ``JobCommand``'s docstring), with defaults."""

    supports_dry_run: bool = True
    lock: bool = True
    lock_args: tuple = ()
    batch_size: int | None = None
    schedule: str | None = None
    schedule_args: tuple = ()
    schedule_timezone: str | None = None
    max_runtime: float | None = None
    retries: int = 2
    resources: types.MappingProxyType = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    stop_grace_seconds: int = 60
    batch_time: float | None = None
    min_batch_size: int = 10
    max_batch_size: int = 100_000
    shards: int | None = None
    db_timeout: float | None = None


#: The declarations that are seconds: checked as the settings' durations are (a wait longer
#: than ``threading`` accepts would leave a deadline silently off).
DURATIONS = ("max_runtime", "stop_grace_seconds", "batch_time", "db_timeout")

#: Every name ``class Job:`` may hold.
NAMES = tuple(field.name for field in dataclasses.fields(Declaration))


def declared(klass):
    """The names and values ``klass``'s own ``class Job:`` sets (none when it has none)."""
    job = vars(klass).get("Job")
    if not isinstance(job, type):
        return {}
    return {name: value for name, value in vars(job).items() if not name.startswith("__")}


def resolve(cls, name):
    """The ``Declaration`` of the command class ``cls`` (job ``name``), merged along its MRO;
    ``ImproperlyConfigured`` for an unknown name or a value that cannot work."""
    values = {}
    for klass in reversed(cls.__mro__):
        own = declared(klass)
        if unknown := sorted(set(own) - set(NAMES)):
            raise ImproperlyConfigured(
                f"job {name}: class Job has no declaration {', '.join(map(repr, unknown))}; "
                f"the known ones are {', '.join(NAMES)}"
            )
        values.update(own)
    for sequence in ("lock_args", "schedule_args"):
        if sequence in values:
            values[sequence] = tuple(values[sequence])
    if "resources" in values:
        values["resources"] = types.MappingProxyType(dict(values["resources"]))
    declaration = Declaration(**values)
    if declaration.schedule is not None:
        schedule.validate(name, declaration.schedule, declaration.schedule_timezone)
    for duration in DURATIONS:
        if (value := getattr(declaration, duration)) is not None:
            for problem in seconds(f"job {name}: {duration}", value):
                raise ImproperlyConfigured(problem)  # the settings' own bounds
    shards = declaration.shards
    if shards is not None and not (
        isinstance(shards, int) and shards >= 1 and declaration.batch_size
    ):
        raise ImproperlyConfigured(
            f"job {name}: shards = {shards!r} needs a batch job (batch_size) and a "
            "whole number of shards, 1 or more"
        )
    return declaration


def flat_attributes(cls):
    """Declaration names that ``cls`` or a base below ``JobCommand`` sets as plain class
    attributes (0.2's style) without ``class Job`` setting them: 0.3 no longer reads those."""
    in_job = set()
    for klass in cls.__mro__:
        in_job |= set(declared(klass))
    found = []
    for klass in cls.__mro__:
        if "_is_job_base" in vars(klass):  # JobCommand itself, and what it derives from
            break
        found += [n for n in NAMES if n in vars(klass) and n not in in_job and n not in found]
    return found
