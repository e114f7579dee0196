"""PostgreSQL, through psycopg 3 or psycopg 2, whichever driver Django's backend uses.

Everything the framework does best is here: the session advisory lock, ``COPY`` for
``update_rows``, ``pg_stat_*`` health, ``percentile_disc`` shard plans, ``pg_class``
estimates, statement timeouts told apart by SQLSTATE, and the socket cut of the deadline.
Errors are told apart by SQLSTATE (psycopg 3's ``sqlstate``, psycopg 2's ``pgcode``), so no
driver class is imported; only the ``COPY`` of ``update_rows`` differs between the drivers.
"""

import contextlib
import datetime
import decimal
import functools
import io
import os
import socket
import uuid

from django.db import OperationalError
from django.db.backends.postgresql.psycopg_any import is_psycopg3

from batch_jobs.backends import base
from batch_jobs.backends.base import passes_through, staging_table
from batch_jobs.framework.errors import one_line
from batch_jobs.framework.lock import lock_id

#: undefined_table, read_only_sql_transaction (a standby, default_transaction_read_only) and
#: insufficient_privilege: what the database cannot do for the job as it is set up.
UNUSABLE_SQLSTATES = {
    "42P01": base.MISSING_TABLE,
    "25006": base.READ_ONLY,
    "42501": base.NO_PRIVILEGE,
}
#: query_canceled (statement_timeout, a cancel) and lock_not_available (lock_timeout).
TIMEOUT_SQLSTATES = {"57014", "55P03"}
#: invalid_password, invalid_authorization_specification, invalid_catalog_name.
CONFIG_SQLSTATES = {"28P01", "28000", "3D000"}
#: Pages a never-analyzed table's row estimate reads at most (8 MB at the default block size).
SAMPLED_PAGES = 1000
# libpq reports these on connect, often without a SQLSTATE; retrying cannot fix them.
_CONFIG_FAILURES = ("password authentication failed", "does not exist", "no password supplied")


def sqlstate(exc):
    """The SQLSTATE of a driver error (``exc`` or the one Django wrapped), or ``None``."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


class AdvisoryLock(base.SessionLock):
    """``pg_try_advisory_lock`` on the run's control connection."""

    try_sql = "SELECT pg_try_advisory_lock(%s)"
    release_sql = "SELECT pg_advisory_unlock(%s)"


class DatabaseBackend(base.DatabaseBackend):
    degraded = ()
    separate_control_connection = True
    has_health = True

    def timed_out(self, exc):
        if not isinstance(exc, OperationalError | self.connection.Database.OperationalError):
            return False
        return sqlstate(exc) in TIMEOUT_SQLSTATES

    def unusable(self, exc):
        return UNUSABLE_SQLSTATES.get(sqlstate(exc))

    def is_config_failure(self, exc):
        reason = one_line(exc)
        return sqlstate(exc) in CONFIG_SQLSTATES or any(m in reason for m in _CONFIG_FAILURES)

    def lock(self, key):
        return AdvisoryLock(self.connection, lock_id(key))

    def update_rows(self, model, fields, rows, key, using):
        """The rows stream with ``COPY`` into a temporary table of the session (typed like the
        columns, emptied at each call and at COMMIT), and one ``UPDATE table SET f = v.f FROM
        that AS v WHERE table.key = v.key`` applies them: no SQL text grows with the batch, and
        PostgreSQL parses no literals."""
        connection = self.connection
        table, columns, names, staging = staging_table(connection, model, fields, key)
        typed = ", ".join(
            f"{n} {f.cast_db_type(connection)}" for n, f in zip(names, columns, strict=True)
        )
        assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
        copy = f"COPY {staging} ({', '.join(names)}) FROM STDIN"
        # Per column, Django's preparation, or None where the value goes to COPY as it is.
        prepare = [None if passes_through(f) else f.get_db_prep_value for f in columns]
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ({typed}) ON COMMIT DELETE ROWS"
            )
            cursor.execute(f"TRUNCATE {staging}")
            # Raw cursor calls: Django does not wrap their errors unless asked to.
            with connection.wrap_database_errors:
                if is_psycopg3:
                    _copy_psycopg3(cursor.cursor, copy, rows, prepare, connection)
                else:
                    _copy_psycopg2(cursor.cursor, copy, rows, prepare, connection)
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM {staging} AS v "
                f"WHERE t.{names[0]} = v.{names[0]}"
            )
            return cursor.rowcount

    def estimated_rows(self, queryset):
        """``pg_class.reltuples``, kept by VACUUM and ANALYZE. Before either has run (a table
        just loaded), a count: exact for a table of up to ``SAMPLED_PAGES`` pages, else of a
        ``TABLESAMPLE SYSTEM`` of about that many pages, scaled up."""
        table = self.connection.ops.quote_name(queryset.model._meta.db_table)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint, pg_relation_size(oid) / "
                "current_setting('block_size')::int FROM pg_class WHERE oid = to_regclass(%s)",
                [table],
            )
            row = cursor.fetchone()
            if row is None:
                return None
            estimate, pages = row
            if estimate is not None and estimate > 0:
                return estimate
            if pages <= SAMPLED_PAGES:
                cursor.execute(f"SELECT count(*) FROM {table}")
                return cursor.fetchone()[0] or None
            percent = 100.0 * SAMPLED_PAGES / pages
            cursor.execute(f"SELECT count(*) FROM {table} TABLESAMPLE SYSTEM (%s)", [percent])
            return round(cursor.fetchone()[0] * 100.0 / percent) or None

    def key_quantiles(self, keys, key, fractions):
        """``percentile_disc`` over the keys: one sorting scan."""
        sql, params = keys.query.sql_with_params()
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY k) "
                f"FROM ({sql}) AS q(k)",
                [fractions, *params],
            )
            found = cursor.fetchone()[0]
        return list(found) if found else []

    def replica_lag(self):
        """Read on the primary (``pg_stat_replication``); its role needs ``pg_monitor``."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(max(EXTRACT(epoch FROM replay_lag)), 0)::float8 "
                "FROM pg_stat_replication"
            )
            return cursor.fetchone()[0]

    def active_backends(self):
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    def cancel(self):
        """psycopg 2 waits for a statement inside libpq: ask the server to cancel it
        (``PQcancel``, safe from another thread). psycopg 3 waits in Python, where the signal
        handler's exception already makes it cancel the statement."""
        raw = self.connection.connection
        if raw is not None and not is_psycopg3:
            with contextlib.suppress(Exception):
                raw.cancel()

    def was_cancelled(self, exc):
        return sqlstate(exc) == "57014"  # query_canceled

    def cut(self):
        """Shut down the connection's socket.

        ``shutdown`` (not ``close``) leaves the descriptor to libpq, so no other file can take
        its number while libpq still holds it; libpq's next read or write fails on it at once.
        """
        raw = self.connection.connection
        if raw is None:
            return False
        try:
            descriptor = os.dup(raw.fileno())
        except Exception:  # closed already
            return False
        with socket.socket(fileno=descriptor) as sock, contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return True


# -- COPY ----------------------------------------------------------------------------------


def _copy_psycopg3(cursor, sql, rows, prepare, connection):
    """psycopg 3's ``Copy.write_row``, which adapts each value as a query parameter."""
    with cursor.copy(sql) as copy:
        if not any(prepare):  # str, int, float and bool only
            for row in rows:
                copy.write_row(row)
        else:
            for row in rows:
                copy.write_row(
                    [
                        v if p is None else p(v, connection)
                        for p, v in zip(prepare, row, strict=True)
                    ]
                )


def _copy_psycopg2(cursor, sql, rows, prepare, connection):
    """psycopg 2's ``copy_expert``, fed the batch as COPY text (one buffer per batch)."""
    if any(prepare):
        rows = (
            [v if p is None else p(v, connection) for p, v in zip(prepare, row, strict=True)]
            for row in rows
        )
    cursor.copy_expert(sql, io.StringIO(copy_text(rows)))


def copy_text(rows):
    """``rows`` in COPY's text format: tab between values, a line per row, ``\\N`` for NULL,
    backslash, tab, newline and carriage return escaped."""
    encoders = _ENCODERS
    other = _encode_other
    lines = ["\t".join([encoders.get(type(v), other)(v) for v in row]) for row in rows]
    lines.append("")  # each line ends with a newline
    return "\n".join(lines)


def _text(value):
    # Four scans in C; each returns the string itself when there is nothing to replace.
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _interval(value):
    return f"{value.days} days {value.seconds}.{value.microseconds:06d} seconds"


_ENCODERS = {
    str: _text,
    int: int.__repr__,
    bool: lambda value: "t" if value else "f",
    float: float.__repr__,
    type(None): lambda value: "\\N",
    decimal.Decimal: str,
    datetime.datetime: str,
    datetime.date: str,
    datetime.time: str,
    datetime.timedelta: _interval,
    uuid.UUID: str,
}


def _encode_other(value):
    """Values of other types: subclasses of the plain ones (a ``TextChoices`` member), and
    what Django's preparation hands psycopg 2 (``Json``, ``Inet``, ``Binary``, ranges, lists).
    """
    return _text(_literal(value))


def _literal(value):
    """``value`` as PostgreSQL's input syntax for its type, before COPY's escaping."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, datetime.timedelta):
        return _interval(value)
    if isinstance(value, decimal.Decimal | datetime.date | datetime.time | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return "{" + ",".join(_element(v) for v in value) + "}"
    adapters = _psycopg2_adapters()
    if isinstance(value, adapters["Json"]):
        return value.dumps(value.adapted)
    if isinstance(value, adapters["Inet"]):
        return str(value.addr)
    if isinstance(value, adapters["Binary"]):
        return _literal(value.adapted)
    if isinstance(value, adapters["Range"]):
        if value.isempty:
            return "empty"
        lower = "" if value.lower is None else _element(value.lower)
        upper = "" if value.upper is None else _element(value.upper)
        opening, closing = "[" if value.lower_inc else "(", "]" if value.upper_inc else ")"
        return f"{opening}{lower},{upper}{closing}"
    raise TypeError(f"update_rows cannot write a {type(value).__name__} through psycopg 2's COPY")


def _element(value):
    """A value inside an array or range literal: quoted, or NULL."""
    if value is None:
        return "NULL"
    text = _literal(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@functools.cache
def _psycopg2_adapters():
    # Imported on the first value of these types: only ever with psycopg 2 in use.
    from psycopg2.extensions import Binary
    from psycopg2.extras import Inet, Json, Range

    return {"Binary": Binary, "Inet": Inet, "Json": Json, "Range": Range}
