"""Keeping secrets out of logs and run records."""

import re

REDACTED = "***"

# scheme://user:password@host... or user:password@host: everything from the first ':' after
# the user name to the last '@' is the password, whatever characters it holds.
_PASSWORD = re.compile(r"^([^:/@]*):.*@")
_PASSWORD_AFTER_SCHEME = re.compile(r"^([^:/@]*://[^:/@]*):.*@")


def masked_url(url):
    """``url`` with its password replaced by ``***``, safe to print or store."""
    pattern = _PASSWORD_AFTER_SCHEME if "://" in url else _PASSWORD
    return pattern.sub(r"\1:***@", url, count=1)


# Option names that hold secrets: --password, --db-password, --token, --api-key, --secret, ...
# Whole words only, so that --tokens (a count) or --token-count stay visible.
SECRET_NAME = re.compile(
    r"(^|[_-])(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credentials?|auth)$",
    re.IGNORECASE,
)

# Options every Django command has (and call_command's streams), which say nothing about the run.
DJANGO_DEFAULT_OPTIONS = frozenset(
    {"verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"}
    | {"stdout", "stderr"}
)


def redact_value(value):
    """``value`` safe to store and JSON-ready: any argparse type (a ``Path``, a date, a
    ``Decimal``, a UUID...) that JSON cannot hold becomes its text."""
    if isinstance(value, str):
        return masked_url(value) if "://" in value else value
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return redact_argv(value)  # positional words: "--token abc" may hide among them
        return [redact_value(v) for v in value]
    if isinstance(value, bool | int | float | type(None)):
        return value
    return redact_value(str(value))


def redact_options(options):
    """The job's own options, JSON-ready, with secret-looking ones replaced by ``***``."""
    clean = {}
    for name, value in sorted(options.items()):
        if name in DJANGO_DEFAULT_OPTIONS:
            continue
        if SECRET_NAME.search(name) and value not in (None, False, ""):
            clean[name] = REDACTED
        else:
            clean[name] = redact_value(value)
    return clean


def redact_argv(argv):
    """Command-line words with the values of secret-looking options replaced by ``***``."""
    clean, hide_next = [], False
    for word in argv:
        if hide_next:
            clean.append(REDACTED)
            hide_next = False
            continue
        name, eq, _ = word.partition("=")
        if word.startswith("-") and SECRET_NAME.search(name.lstrip("-")):
            if eq:
                clean.append(f"{name}={REDACTED}")
            else:
                clean.append(word)
                hide_next = True
            continue
        clean.append(redact_value(word))
    return clean
