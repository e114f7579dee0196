"""Job events as log lines: JSON objects for machines, readable lines for people.

Events are logged on the ``batch_jobs`` logger with ``extra={"event": ..., <fields>}``. The
format is JSON (one object per line) when stderr is not a terminal or ``JOB_LOG_FORMAT =
"json"``, and text on a terminal or with ``JOB_LOG_FORMAT = "text"``. Either way every string
of an event goes through ``redact.redact_text``; a text line has its control characters
escaped (JSON escapes them itself), so that one event is one line and no terminal escape
reaches an operator's terminal.

``JobLogHandler`` writes each event where the run it belongs to writes: the stream of
``call_command(stderr=...)``; the process's stderr for a run started from the command line
(and the runs nested in it); nowhere for any other in-process run (a test's ``call_command``),
whose events still reach the logger's other handlers and pytest's ``caplog``.
"""

import contextlib
import datetime
import json
import logging
import sys

from django.core.exceptions import ImproperlyConfigured

from batch_jobs.framework.redact import escape_controls, redact_json, redact_text

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


def use_json(stream=None):
    from batch_jobs.conf import setting

    try:
        choice = setting("JOB_LOG_FORMAT")
    except ImproperlyConfigured:  # reported by the runner and the checks, not by every line
        choice = "auto"
    if choice != "auto":
        return choice == "json"
    stream = stream or sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


class JobLogFormatter(logging.Formatter):
    """Formats records as JSON or text, with the fields passed in ``extra``."""

    def __init__(self, *args, json_lines=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Decided at the first record: settings may be read only once Django is set up.
        self.json_lines = json_lines
        self._fixed = json_lines is not None

    def fields(self, record):
        return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}

    def format(self, record, json_lines=None):
        message = record.getMessage()
        fields = self.fields(record)
        when = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        if self.json_lines is None:
            self.json_lines = use_json()
        if json_lines is None or self._fixed:
            json_lines = self.json_lines
        if json_lines:
            entry = {
                "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
                **fields,
            }
            if record.exc_info:
                entry["traceback"] = self.formatException(record.exc_info)
            return json.dumps(redact_json(entry))
        context = " ".join(
            f"{k}={json.dumps(v, default=str) if isinstance(v, dict | list) else v}"
            for k, v in fields.items()
            if k not in ("job", "run_id", "event")
        )
        who = fields.get("job", record.name)
        if fields.get("run_id"):
            who += f"[{fields['run_id']}]"
        line = f"{when:%H:%M:%S} {record.levelname:<7} {who}: {message}"
        return escape_controls(redact_text(f"{line}  {context}" if context else line))


#: Where a run's events go: the process's stderr (a run from the command line), or the
#: destination of the run it is nested in (nowhere when it is not nested).
PROCESS_STDERR = "process stderr"
INHERIT = "inherit"
_destinations = []


@contextlib.contextmanager
def events_to(destination):
    """Send the events logged in the block to ``destination``: a stream, ``PROCESS_STDERR``
    or ``INHERIT``."""
    if destination is INHERIT:
        destination = _destinations[-1] if _destinations else None
    _destinations.append(destination)
    try:
        yield
    finally:
        _destinations.pop()


def destination():
    """The stream events go to now (``None``: nowhere); outside any run, stderr."""
    where = _destinations[-1] if _destinations else PROCESS_STDERR
    return sys.stderr if where is PROCESS_STDERR else where


class JobLogHandler(logging.Handler):
    """Writes events to the stream of the run they belong to (see the module's docstring)."""

    def __init__(self, level=logging.NOTSET):
        super().__init__(level)
        self.setFormatter(JobLogFormatter())

    def emit(self, record):
        stream = destination()
        if stream is None:
            return
        try:
            formatter = self.formatter
            if isinstance(formatter, JobLogFormatter) and stream is not sys.stderr:
                # JSON or text for this stream (a captured one is not a terminal).
                line = formatter.format(record, json_lines=use_json(stream))
            else:
                line = formatter.format(record)
            stream.write(line + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
