"""Job events as log lines: JSON objects for machines, readable lines for people.

Events are logged on the ``jobs`` logger with ``extra={"event": ..., <fields>}``. The format is
JSON (one object per line) when stderr is not a terminal or ``JOB_LOG_FORMAT = "json"``, and
text on a terminal or with ``JOB_LOG_FORMAT = "text"``.
"""

import datetime
import json
import logging
import sys

from django.core.exceptions import ImproperlyConfigured

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

    def fields(self, record):
        return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}

    def format(self, record):
        message = record.getMessage()
        fields = self.fields(record)
        when = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        if self.json_lines is None:
            self.json_lines = use_json()
        if self.json_lines:
            entry = {
                "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
                **fields,
            }
            if record.exc_info:
                entry["traceback"] = self.formatException(record.exc_info)
            return json.dumps(entry, default=str)
        context = " ".join(
            f"{k}={json.dumps(v, default=str) if isinstance(v, dict | list) else v}"
            for k, v in fields.items()
            if k not in ("job", "run_id", "event")
        )
        who = fields.get("job", record.name)
        if fields.get("run_id"):
            who += f"[{fields['run_id']}]"
        line = f"{when:%H:%M:%S} {record.levelname:<7} {who}: {message}"
        return f"{line}  {context}" if context else line
