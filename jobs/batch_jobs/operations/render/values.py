"""What every value a renderer writes must be: one rule per kind of value, checked before
anything is rendered, whichever renderer and whoever calls it.

A rule names what it checks (``field``: the renderer's input, which ``jobctl`` turns into its
option) and says its rule in one line. Values that are legitimately free text (a job's help)
are not refused but encoded, by ``printable`` here and by each file's own encoder after it.
"""

import argparse
import contextlib
import dataclasses
import io
import posixpath
import re
import zoneinfo
from collections.abc import Callable

from croniter import croniter

from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.redact import escape_controls, has_control
from batch_jobs.framework.schedule import expand
from batch_jobs.operations import allowlist


class Invalid(ValueError):
    """A value refused: the input that held it, the rule it breaks, and the exit code (2 for
    a malformed value, 64 for what the job runner refuses)."""

    def __init__(self, field, value, rule, code=ExitCode.USAGE):
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.value = value
        self.rule = rule
        self.code = int(code)


# No rendered file carries a control character (redact.CONTROL_CATEGORIES): a newline starts
# a crontab line, a unit directive or ends a YAML comment; bidi overrides make a line read
# other than it parses; lone surrogates (argv bytes that were not UTF-8) cannot be written.
NO_CONTROL = "must not contain control characters (newlines, tabs, escapes, ...)"
#: Free text (a job's help) on one line: each control character as its backslash escape.
printable = escape_controls


@dataclasses.dataclass(frozen=True)
class Rule:
    """A kind of value: ``says`` is the rule in words; ``clean`` returns the value as it is
    written, or ``None`` when the value breaks the rule."""

    says: str
    clean: Callable[[str], object]
    code: int = int(ExitCode.USAGE)

    def __call__(self, field, value):
        if isinstance(value, str) and has_control(value):
            raise Invalid(field, value, NO_CONTROL, self.code)
        cleaned = self.clean(value)
        if cleaned is None:
            raise Invalid(field, value, self.says, self.code)
        return cleaned


def matching(pattern, longest=None):
    """A ``clean`` for text that fully matches ``pattern`` (ASCII only), at most ``longest``
    characters."""
    compiled = re.compile(pattern, re.ASCII)

    def clean(value):
        if not isinstance(value, str) or (longest and len(value) > longest):
            return None
        return value if compiled.fullmatch(value) else None

    return clean


def whole_number(low, high, also_excluded=()):
    """A ``clean`` for an int, or its decimal digits (ASCII: ``int`` alone takes ``" 1_0 "``
    and other scripts' digits), from ``low`` to ``high``."""

    def clean(value):
        if isinstance(value, str):
            if not re.fullmatch(r"[0-9]{1,19}", value, re.ASCII):
                return None
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value if low <= value <= high and value not in also_excluded else None

    return clean


def absolute_path(value):
    """Normalized, within Linux's limits: 255 bytes a name, 4095 in all."""
    if not isinstance(value, str) or not value.startswith("/"):
        return None
    path = posixpath.normpath(value)
    encoded = path.encode(errors="surrogateescape")
    if len(encoded) > 4095 or any(len(name) > 255 for name in encoded.split(b"/")):
        return None
    return path


def file_path(value):
    """An absolute path that names a file: not the root (systemd refuses a directory)."""
    path = absolute_path(value)
    return path if path and path.strip("/") else None


def time_zone(value):
    if not isinstance(value, str) or not _ZONE.fullmatch(value):
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return value


def cron_expression(value):
    """Five fields (a macro stands for its fields); written with single spaces between them."""
    if not isinstance(value, str):
        return None
    fields = expand(value).split()
    if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
        return None
    return value


_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_ZONE = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*", re.ASCII)
# distribution/reference's grammar, ASCII: [domain[:port]/]path[:tag][@digest]
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?P<name>(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?/)?"
    rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?",
    re.ASCII,
)


def image_reference(value):
    match = isinstance(value, str) and _IMAGE.fullmatch(value)
    return value if match and len(match["name"]) <= 255 else None


def job_name(value):
    try:
        allowlist.check_name(value)
    except allowlist.Refused:
        return None
    return value


#: Kubernetes namespaces (and other DNS-1123 labels), as the API server validates them.
NAMESPACE = Rule(
    "must be a DNS label (RFC 1123): lowercase letters, digits and '-', starting and ending "
    "with a letter or digit, 63 characters at most",
    matching(_DNS_LABEL, 63),
)
#: Secret names (DNS-1123 subdomains).
SUBDOMAIN = Rule(
    "must be a DNS subdomain (RFC 1123): DNS labels joined by '.', 253 characters at most",
    matching(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*", 253),
)
#: The app name, JOB_APP_NAME's rule: a label value, a Secret's name, a unit-name prefix.
APP_NAME = Rule(
    "must be a DNS label (RFC 1123) of 40 characters at most: lowercase letters, digits and "
    "'-', starting and ending with a letter or digit",
    matching(_DNS_LABEL, 40),
)
IMAGE = Rule(
    "must be an image reference such as registry.example.com/team/django-jobs:1.4 "
    "([registry[:port]/]path[:tag][@digest], the path in lowercase)",
    image_reference,
)
#: A user id a pod runs as: Kubernetes' runAsNonRoot refuses 0; Linux ids are 31-bit safe.
UID = Rule("must be a user id from 1 to 2147483647", whole_number(1, 2**31 - 1))
SHARDS = Rule("must be a whole number of shards from 1 to 1000", whole_number(1, 1000))
_user_name = matching(r"[A-Za-z_][A-Za-z0-9_-]{0,31}")
_user_id = whole_number(0, 2**31 - 2, also_excluded={65535})
#: systemd's User=: a POSIX portable user name that systemd also accepts, or a numeric id
#: (65535 is the 16-bit -1, which systemd refuses).
USER = Rule(
    "must be a user name (a letter or '_', then letters, digits, '_' or '-', 32 characters "
    "at most) or a user id from 0 to 2147483646",
    lambda value: _user_name(value) or _user_id(value),
)
PATH = Rule("must be an absolute path (names of 255 bytes at most)", absolute_path)
FILE = Rule("must be the absolute path of a file (not /)", file_path)
SETTINGS_MODULE = Rule(
    "must be a dotted Python module path such as mysite.settings",
    matching(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", 255),
    code=int(ExitCode.CONFIG),
)
JOB_NAME = Rule(
    "must be a job name as the runner accepts it: ^[a-z][a-z0-9_]{0,63}$",
    job_name,
    code=int(ExitCode.RUNNER_MISUSE),
)
SCHEDULE = Rule(
    "must be a five-field cron expression (or @daily and the like)",
    cron_expression,
    code=int(ExitCode.CONFIG),
)
TIME_ZONE = Rule("must be an IANA time zone such as Europe/Paris", time_zone, int(ExitCode.CONFIG))


def check_job(job):
    """A catalog job as every renderer writes it: its name, schedule and time zone, and its
    scheduled arguments checked the way the runner checks them."""
    JOB_NAME("job", job.name)
    if job.schedule is not None:
        SCHEDULE(f"job {job.name}'s schedule", job.schedule)
    if job.timezone is not None:
        TIME_ZONE(f"job {job.name}'s schedule_timezone", job.timezone)
    check_arguments(job, job.scheduled_args, f"job {job.name}'s schedule_args")


def check_arguments(job, args, field="arguments"):
    """Refuse arguments the runner would refuse (64: ``--settings``, ``--pythonpath``), then a
    word with a control character (2), then what the job's own parser would refuse (2), as
    ``job NAME ARGS`` parses them: before a schedule or a Job that could only fail is written."""
    args = list(args)
    try:
        allowlist.check_options(args)
    except allowlist.Refused as e:
        raise Invalid(field, args, str(e), ExitCode.RUNNER_MISUSE) from None
    for arg in args:
        if not isinstance(arg, str) or has_control(arg):
            raise Invalid(field, args, NO_CONTROL)
    parser = job.command.create_parser("job", job.name)
    # Outside a command line, Django's parser raises CommandError rather than exiting; --help
    # and --version still print and exit, which would render the help instead of a Job.
    from django.core.management.base import CommandError

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            parser.parse_args(args)
    except CommandError as e:
        message = str(e).removeprefix("Error: ")
        raise Invalid(field, args, f"job {job.name} would refuse them: {message}") from None
    except (SystemExit, argparse.ArgumentError):
        raise Invalid(
            field, args, f"job {job.name} would print its help or version and run nothing"
        ) from None
