"""Waiting for the database before a job starts, with bounded retries and backoff."""

import logging
import time

from django.core.management.base import CommandError
from django.db import OperationalError, connections

from batch_jobs.backends import backend_for
from batch_jobs.conf import setting
from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.errors import one_line

logger = logging.getLogger("batch_jobs")


def describe(alias):
    """``host:port/name`` of a connection, never its password."""
    db = connections[alias].settings_dict
    if db.get("HOST"):
        return f"{db['HOST']}:{db.get('PORT') or 5432}/{db.get('NAME')}"
    return str(db.get("NAME"))


def wait_for_database(alias, timeout=None):
    """Connect ``alias``, retrying with backoff for ``timeout`` seconds in all.

    Raises ``CommandError`` with exit 69 when the bound passes, and 78 at once when the server
    answers that the credentials or the database name are wrong.
    """
    if timeout is None:
        timeout = setting("JOB_DB_WAIT_SECONDS")
    connection = connections[alias]
    deadline = time.monotonic() + timeout
    delay, attempt = 0.25, 0
    while True:
        attempt += 1
        try:
            connection.ensure_connection()
            return
        except OperationalError as e:
            reason = one_line(e)
            if backend_for(connection).is_config_failure(e):
                raise CommandError(
                    f"cannot connect to {describe(alias)}: {reason}; check DATABASES[{alias!r}] "
                    "(or the DATABASE_URL it is read from)",
                    returncode=ExitCode.CONFIG,
                ) from e
            if time.monotonic() + delay > deadline:
                raise CommandError(
                    f"database unreachable at {describe(alias)} after {attempt} attempts "
                    f"in {timeout:g}s: {reason}",
                    returncode=ExitCode.DB_UNAVAILABLE,
                ) from e
            logger.info(
                "waiting for the database at %s: %s",
                describe(alias),
                reason,
                extra={"event": "db_wait", "attempt": attempt},
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
