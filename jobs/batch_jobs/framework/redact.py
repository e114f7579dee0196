"""Keeping secrets out of every text that leaves the process, and values bounded and printable.

``redact_text(text)`` is the one redaction step: stderr lines, log events, run records, the
console, ``jobctl`` and the monitors' payloads all put their text through it. It cuts out

* every value known to be secret: the values of a run's secret options (by name, or typed
  ``batch_jobs.Secret``), given to ``keep_secret`` when the run starts, and the passwords of
  the project's settings (``DATABASES``, ``EMAIL_HOST_PASSWORD``, ``SECRET_KEY``);
* the password of a URL of any shape, well-formed or not (``scheme://user:pw@host``,
  ``scheme//user:pw@host``, ``scheme:///user:pw@host``, ``user:pw@host``);
* ``password=...``, ``token: ...``, ``?sslpassword=...``, ``--secret VALUE``, ``Bearer ...``:
  pairs whose name says they hold a secret.

Around it: ``safe_line`` (a one-line message: redacted, control characters escaped, bounded),
``shown`` (a cell of a table for a terminal or a page), and ``redact_options``/``redact_argv``
(the run record's arguments: redacted and bounded, storable whatever the shell passed).
"""

import re
import unicodedata

REDACTED = "***"

#: The most characters a stored value (an argument, a word of the command line, an error
#: text) keeps; the rest is replaced by ``TRUNCATED``.
STORED_CHARS = 2000
#: The most words of a command line (or items of a list argument) a run record keeps.
STORED_WORDS = 200
#: The most characters a cell of ``jobctl history`` shows.
SHOWN_CHARS = 200
#: What replaces the end of a value cut to its bound; ``{length}``: the whole value's.
TRUNCATED = "… [truncated, {length} chars]"
_TRUNCATED = re.compile(r"… \[truncated, \d+ (chars|words)\]")

#: Known secret values shorter than this are not searched for in free text (they would cut
#: ordinary words out of every message); by option name or ``Secret`` type they still are.
MIN_SECRET_CHARS = 6


class Secret(str):
    """An argparse type: the option's value is a secret, whatever the option's name.

    ``parser.add_argument("--dsn", type=Secret)``: the value is a ``str`` for the job, shown
    as ``***`` in the run record's arguments and command line, and cut out of every later text
    of the process (error text, log events, stderr).
    """

    __slots__ = ()


# -- known secret values ---------------------------------------------------------------------

_kept = set()


def keep_secret(value):
    """Cut ``value`` out of every later text of this process (``redact_text``)."""
    if isinstance(value, str) and value:
        _kept.add(str(value))


def _configured_secrets():
    """The project's own secrets, from its settings, when Django is set up."""
    try:
        from django.conf import settings

        if not settings.configured:
            return set()
        found = {getattr(settings, "SECRET_KEY", ""), getattr(settings, "EMAIL_HOST_PASSWORD", "")}
        for database in getattr(settings, "DATABASES", {}).values():
            found.add(database.get("PASSWORD") or "")
            options = database.get("OPTIONS") or {}
            found |= {options.get("password") or "", options.get("sslpassword") or ""}
    except Exception:  # settings that cannot be read hold nothing to hide yet
        return set()
    return {s for s in found if isinstance(s, str)}


def _secret_values():
    values = {s for s in _kept | _configured_secrets() if len(s) >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)  # a secret inside another goes second


# -- the patterns ----------------------------------------------------------------------------

_SECRET_WORD = (
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credentials?|auth|authorization)"
)

# Option names that hold secrets: --password, --db-password, --token, --api-key, --secret, ...
# Whole words only, so that --tokens (a count) or --token-count stay visible.
SECRET_NAME = re.compile(rf"(^|[_-]){_SECRET_WORD}$", re.IGNORECASE)

# A URL scheme followed by a slash: where the user name of ``scheme://user:pw@host`` starts.
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*:(?=/)")
_WORD = re.compile(r"\S+")

# name=value, name: value, "name": "value", ?name=value&..., name='quoted value'
_PAIR = re.compile(
    rf"""(?P<key>(?<![A-Za-z0-9_.\-])[A-Za-z0-9_.\-]*{_SECRET_WORD}(?![A-Za-z0-9])["']?)
    (?P<sep>[ \t]*[=:][ \t]*)
    (?P<value>(?:bearer|basic|token)[ \t]+[^\s"'&]+
      |"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|[^\s&"']+)""",
    re.IGNORECASE | re.VERBOSE,
)
# --password VALUE: the option's value as the next word.
_FLAG = re.compile(
    rf"(?P<key>(?<![A-Za-z0-9_\-])--?[A-Za-z0-9_\-]*{_SECRET_WORD})"
    r"(?P<sep>[ \t]+)(?P<value>(?!--)\S+)",
    re.IGNORECASE,
)
_BEARER = re.compile(
    r"(?<![A-Za-z0-9])(?P<key>Bearer)(?P<sep>[ \t]+)(?P<value>[A-Za-z0-9._~+/=\-]+)"
)


def _masked_userinfo(word):
    """``word`` with the password of the URL in it (up to its last ``@``) replaced."""
    at = word.rfind("@")
    head = word[:at]
    scheme = _SCHEME.search(head)
    colon = head.find(":", scheme.end() if scheme else 0)
    if colon < 0 and scheme and not head.startswith("//", scheme.end()):
        colon = scheme.end() - 1  # user:/pw@host: what looked like a scheme was the user
    if colon < 0 or colon == at - 1 or head[colon + 1 :] == REDACTED:
        return word
    return f"{head[: colon + 1]}{REDACTED}{word[at:]}"


def masked_url(url):
    """``url`` with its password replaced by ``***``, safe to print or store."""
    return _WORD.sub(lambda m: _masked_userinfo(m.group()) if "@" in m.group() else m.group(), url)


def _keep_quotes(match):
    if match["key"].startswith("-") and ":" in match["sep"]:
        return match.group()  # "argument --token: expected one argument": no value there
    value = match["value"]
    quote = value[0] if value[:1] in "\"'" else ""
    scheme = re.match(r"(?i)(bearer|basic|token)[ \t]+", value)
    shown = f"{scheme.group()}{REDACTED}" if scheme else REDACTED
    return f"{match['key']}{match['sep']}{quote}{shown}{quote if value[-1:] == quote else ''}"


def redact_text(text):
    """``text`` with every secret it may hold replaced by ``***`` (see the module's doc)."""
    text = str(text)
    for secret in _secret_values():
        text = text.replace(secret, REDACTED)
    if "@" in text:
        text = masked_url(text)
    text = _PAIR.sub(_keep_quotes, text)
    text = _FLAG.sub(_keep_quotes, text)
    return _BEARER.sub(_keep_quotes, text)


# -- bounded and printable -------------------------------------------------------------------

# Unicode's controls (Cc: C0, C1, DEL), format characters (Cf: bidirectional overrides and
# isolates, zero-width ones, the BOM), line and paragraph separators (Zl, Zp), and lone
# surrogates (Cs: the bytes of argv that were not UTF-8). The one definition of a character
# that must not reach a terminal, a log line or a rendered file as it is.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_control(char):
    """Whether ``char`` is of ``CONTROL_CATEGORIES``."""
    return unicodedata.category(char) in CONTROL_CATEGORIES


def has_control(text):
    """Whether ``text`` holds a character of ``CONTROL_CATEGORIES``."""
    return any(is_control(c) for c in str(text))


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char):
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte the shell gave
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text):
    """``text`` with control characters (newlines, escapes, C0/C1, bidi overrides) and
    undecodable bytes written as ``\\n``, ``\\x1b``, ``\\u202e``...: one printable line."""
    return "".join(_escaped(c) if is_control(c) else c for c in str(text))


def is_text(word):
    """Whether ``word`` came as valid text (no byte the locale could not decode)."""
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in word)


def truncated(text, limit=STORED_CHARS):
    """``text`` cut to ``limit`` characters, the cut marked with its whole length."""
    if len(text) <= limit:
        return text
    marker = TRUNCATED.format(length=len(text))
    return text[: max(limit - len(marker), 0)] + marker


def intact(word):
    """Whether a recorded word is the one given: not redacted, not cut."""
    return REDACTED not in word and not _TRUNCATED.search(word)


def safe_line(text, limit=STORED_CHARS):
    """A one-line message for stderr, a log line or a record's error text: whitespace folded,
    secrets redacted, control characters escaped, at most ``limit`` characters."""
    return truncated(escape_controls(redact_text(" ".join(str(text).split()))), limit)


def safe_lines(text):
    """A message of one or more lines for stderr: redacted, each line printable."""
    text = redact_text(text)
    return "\n".join(escape_controls(line) for line in text.split("\n"))


def shown(value, limit=SHOWN_CHARS):
    """A value as a cell of a table on a terminal or a page: redacted, printable, bounded."""
    return truncated(escape_controls(redact_text(value)), limit)


def _storable(text):
    """``text`` as a database stores it: no NUL, no lone surrogate (both escaped)."""
    return re.sub("[\x00\ud800-\udfff]", lambda match: _escaped(match.group()), text)


def redact_json(value):
    """A JSON-ready copy of ``value`` (dicts, lists, strings...) with every string redacted,
    and the value of a secret-looking key (``password``, ``api_key``...) replaced by ``***``;
    any other object becomes its redacted text."""
    if isinstance(value, dict):
        return {
            redact_text(k): REDACTED if is_secret(str(k), v) else redact_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_json(v) for v in value]
    if isinstance(value, bool | int | float | type(None)):
        return value
    return redact_text(value)


# -- the run record's arguments --------------------------------------------------------------

# Options every Django command has (and call_command's streams), which say nothing about the run.
DJANGO_DEFAULT_OPTIONS = frozenset(
    {"verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"}
    | {"stdout", "stderr"}
)


def is_secret(name, value):
    """Whether option ``name``'s ``value`` is a secret: by its name, or its ``Secret`` type."""
    if isinstance(value, Secret):
        return True
    if isinstance(value, list | tuple) and value and all(isinstance(v, Secret) for v in value):
        return True
    return bool(SECRET_NAME.search(name)) and value not in (None, False, "")


def keep_secret_options(options):
    """Remember the values of the secret ones among a run's ``options`` (``keep_secret``)."""
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, Secret) or (SECRET_NAME.search(name) and isinstance(item, str)):
                keep_secret(item)


def _stored_text(text):
    return truncated(_storable(redact_text(text)))


def _bounded_list(items, convert):
    kept = [convert(item) for item in items[:STORED_WORDS]]
    if len(items) > STORED_WORDS:
        kept.append(f"… [truncated, {len(items)} words]")
    return kept


def redact_value(value):
    """``value`` safe to store and JSON-ready: any argparse type (a ``Path``, a date, a
    ``Decimal``, a UUID...) that JSON cannot hold becomes its text; text is redacted and cut
    to ``STORED_CHARS``, lists to ``STORED_WORDS`` items."""
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, str):
        return _stored_text(value)
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) and not isinstance(v, Secret) for v in value):
            return redact_argv(value)  # positional words: "--token abc" may hide among them
        return _bounded_list(list(value), redact_value)
    if isinstance(value, bool | int | float | type(None)):
        return value
    return redact_value(str(value))


def redact_options(options):
    """The job's own options, JSON-ready, with secret ones replaced by ``***``."""
    clean = {}
    for name, value in sorted(options.items()):
        if name in DJANGO_DEFAULT_OPTIONS:
            continue
        clean[name] = REDACTED if is_secret(name, value) else redact_value(value)
    return clean


def redact_argv(argv):
    """Command-line words with the values of secret options replaced by ``***``, every word
    redacted and bounded, the list bounded to ``STORED_WORDS``. Those values are kept
    (``keep_secret``): cut out of every later text of the process, as a secret option's."""
    clean, hide_next = [], False
    for word in argv[:STORED_WORDS]:
        if hide_next:
            clean.append(REDACTED)
            keep_secret(word)  # and out of every later text: the run's output lines too
            hide_next = False
            continue
        name, eq, value = word.partition("=")
        if word in _kept:  # a secret option's value, however short: the word is the secret
            clean.append(REDACTED)
            continue
        if word.startswith("-") and (SECRET_NAME.search(name.lstrip("-")) or value in _kept):
            if eq:
                clean.append(f"{_stored_text(name)}={REDACTED}")
                keep_secret(value)
            else:
                clean.append(_stored_text(word))
                hide_next = True
            continue
        clean.append(_stored_text(word))
    if len(argv) > STORED_WORDS:
        clean.append(f"… [truncated, {len(argv)} words]")
    return clean
