"""MariaDB and MySQL, through mysqlclient (``MySQLdb``), Django's "mysql" vendor.

The same guarantees as PostgreSQL's, with what both servers have: a named lock (``GET_LOCK``)
on the control connection, a session temporary table filled by multi-row INSERTs and one
``UPDATE ... JOIN`` for ``update_rows``, ``ROW_NUMBER()`` shard plans, ``TABLE_ROWS``
estimates, replica lag read on each replica (``SHOW REPLICA STATUS``, as
pt-online-schema-change reads it) and ``Threads_running``, errors told apart by the server's
error numbers, ``KILL QUERY`` for a stop signal and the socket cut of the deadline. Where
MariaDB and MySQL differ (the statement timeout's error, the replica status's names), both
are handled. MariaDB is tested; MySQL 8.0+ is written for, untested.
"""

import contextlib
import hashlib
import math
import os
import re
import socket
import weakref
from typing import NamedTuple

from django.db import DatabaseError, OperationalError, connections
from django.db.backends.signals import connection_created
from django.db.models import F

from batch_jobs.backends import base
from batch_jobs.backends.base import passes_through, staging_table
from batch_jobs.conf import setting

#: Error numbers (``ER_*``, ``CR_*``) of what the database cannot do for the job as it is
#: set up: a table missing (ER_NO_SUCH_TABLE), a read-only server (ER_OPTION_PREVENTS_STATEMENT
#: for read_only, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION), a privilege missing
#: (ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR).
UNUSABLE_ERRORS = {
    1146: base.MISSING_TABLE,
    1290: base.READ_ONLY,
    1792: base.READ_ONLY,
    1142: base.NO_PRIVILEGE,
    1143: base.NO_PRIVILEGE,
}
#: MariaDB's max_statement_time (ER_STATEMENT_TIMEOUT), MySQL's max_execution_time
#: (ER_QUERY_TIMEOUT), and innodb_lock_wait_timeout (ER_LOCK_WAIT_TIMEOUT).
TIMEOUT_ERRORS = {1969, 3024, 1205}
#: ER_QUERY_INTERRUPTED: what ``KILL QUERY`` makes the running statement raise.
QUERY_INTERRUPTED = 1317
#: Access denied (ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD
#: for a socket login) and an unknown database (ER_BAD_DB_ERROR): waiting cannot fix them.
CONFIG_ERRORS = {1044, 1045, 1698, 1049}
#: Errors worth retrying: the client's own (CR_*: the server unreachable, gone away, the
#: connection lost), and the server's too many connections, shutting down, connection killed,
#: aborted or timed out, network errors, deadlock, and the timeouts.
TRANSIENT_ERRORS = {
    1040,  # ER_CON_COUNT_ERROR
    1053,  # ER_SERVER_SHUTDOWN
    1152,  # ER_ABORTING_CONNECTION
    *range(1158, 1162),  # ER_NET_*: read or write errors and timeouts
    1213,  # ER_LOCK_DEADLOCK
    QUERY_INTERRUPTED,
    1927,  # ER_CONNECTION_KILLED (MariaDB)
    4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+)
    *TIMEOUT_ERRORS,
}
#: The client library's error numbers (CR_*): connection trouble, worth retrying.
CLIENT_ERRORS = range(2000, 3000)
#: Longest name ``GET_LOCK`` takes (MySQL 5.7+; MariaDB takes longer ones).
LOCK_NAME_LENGTH = 64


def error_number(exc):
    """The server's (or client library's) error number of a driver error (``exc`` or the one
    Django wrapped, whose arguments Django keeps), or ``None``."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    args = getattr(cause, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def lock_name(database, key):
    """The ``GET_LOCK`` name of ``key`` on ``database``: lock names are server-wide and at
    most 64 characters, so the database's name goes into a hash with the key, and two
    databases on one server do not block each other."""
    digest = hashlib.blake2b(f"{database}|{key}".encode(), digest_size=16).hexdigest()
    return f"batch_jobs:{digest}"[:LOCK_NAME_LENGTH]


class NamedLock(base.SessionLock):
    """``GET_LOCK(name, 0)`` on the run's control connection (NULL, an error, is not held)."""

    try_sql = "SELECT GET_LOCK(%s, 0)"
    release_sql = "SELECT RELEASE_LOCK(%s)"


#: Driver connection -> its session's thread id on the server and its socket's descriptor,
#: read while the connection is idle: mysqlclient refuses any call on a connection that
#: another thread is using, which is when ``cancel()`` and ``cut()`` need them.
_SESSIONS = weakref.WeakKeyDictionary()


class _Session(NamedTuple):
    thread_id: int
    descriptor: int


def _remember(raw):
    with contextlib.suppress(Exception):
        _SESSIONS[raw] = _Session(raw.thread_id(), raw.fileno())


def _connected(sender, connection, **kwargs):
    if connection.vendor == "mysql":
        _remember(connection.connection)


connection_created.connect(_connected, dispatch_uid="batch_jobs.backends.mysql")


class DatabaseBackend(base.DatabaseBackend):
    degraded = ()
    separate_control_connection = True
    has_health = True

    def __init__(self, connection):
        super().__init__(connection)
        #: Staging tables (by signature) that MEMORY refused: they go to the default engine.
        self._staged_on_disk = set()
        if connection.connection is not None:  # connected before this module was imported
            _remember(connection.connection)

    # -- errors -----------------------------------------------------------------------------

    def is_permanent(self, exc):
        """mysqlclient raises ``OperationalError`` for most server errors, an unknown column
        as well as a lost connection: only the numbers above are worth retrying."""
        number = error_number(exc)
        # 0: no number at all (mysqlclient's InterfaceError on a connection already closed).
        return bool(number) and number not in TRANSIENT_ERRORS and number not in CLIENT_ERRORS

    def timed_out(self, exc):
        if not isinstance(exc, OperationalError | self.connection.Database.OperationalError):
            return False
        return error_number(exc) in TIMEOUT_ERRORS

    def unusable(self, exc):
        return UNUSABLE_ERRORS.get(error_number(exc))

    def is_config_failure(self, exc):
        return error_number(exc) in CONFIG_ERRORS

    # -- the overlap lock -------------------------------------------------------------------

    def lock(self, key):
        return NamedLock(self.connection, lock_name(self.connection.settings_dict["NAME"], key))

    # -- the walk ---------------------------------------------------------------------------

    def update_rows(self, model, fields, rows, key, using):
        """The rows go into a temporary table of the session (typed like the columns, made
        afresh at each call, in memory when its columns allow it) with multi-row INSERTs
        (mysqlclient's ``executemany`` sends a batch as one ``INSERT ... VALUES (...),
        (...)``), and one ``UPDATE table JOIN that ON key SET ...`` applies them."""
        connection = self.connection
        table, columns, names, staging = staging_table(connection, model, fields, key)
        types = [column_type(field, connection) for field in columns]
        typed = ", ".join(f"{name} {t}" for name, t in zip(names, types, strict=True))
        assignments = ", ".join(f"t.{name} = v.{name}" for name in names[1:])
        insert = (
            f"INSERT INTO {staging} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
        )
        prepare = [None if passes_through(f) else f.get_db_prep_value for f in columns]
        if any(prepare):
            rows = [
                [v if p is None else p(v, connection) for p, v in zip(prepare, row, strict=True)]
                for row in rows
            ]
        elif not isinstance(rows, list | tuple):
            rows = list(rows)
        if not rows:
            return 0
        in_memory = staging not in self._staged_on_disk and all(map(fits_in_memory, types))
        with connection.cursor() as cursor:
            # Temporary-table DDL does not commit the open transaction (TRUNCATE would: a dry
            # run's batch half committed); a table made afresh is faster to fill and join than
            # one emptied by DELETE.
            cursor.execute(f"DROP TEMPORARY TABLE IF EXISTS {staging}")
            try:
                engine = " ENGINE=MEMORY" if in_memory else ""
                cursor.execute(f"CREATE TEMPORARY TABLE {staging} ({typed}){engine}")
                cursor.executemany(insert, rows)
            except DatabaseError as exc:
                if not in_memory or error_number(exc) not in MEMORY_REFUSALS:
                    raise
                # Rows wider than MEMORY takes, or more than max_heap_table_size holds: the
                # server's default engine (InnoDB), for this table from now on.
                self._staged_on_disk.add(staging)
                cursor.execute(f"DROP TEMPORARY TABLE IF EXISTS {staging}")
                cursor.execute(f"CREATE TEMPORARY TABLE {staging} ({typed})")
                cursor.executemany(insert, rows)
            cursor.execute(
                f"UPDATE {table} AS t JOIN {staging} AS v "
                f"ON t.{names[0]} = v.{names[0]} SET {assignments}"
            )
            # Django's connections count the rows found, not only the rows changed
            # (CLIENT.FOUND_ROWS), as PostgreSQL does.
            return cursor.rowcount

    def estimated_rows(self, queryset):
        """InnoDB's estimate (``information_schema.TABLES.TABLE_ROWS``; MySQL 8 caches it for
        ``information_schema_stats_expiry``), else, for a table that reads 0 there (just
        loaded), the optimizer's estimate of a scan (``EXPLAIN``)."""
        table = queryset.model._meta.db_table
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_ROWS FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                [table],
            )
            row = cursor.fetchone()
            if row is None:
                return None
            if row[0]:
                return int(row[0])
            cursor.execute(f"EXPLAIN SELECT * FROM {self.connection.ops.quote_name(table)}")
            found = _column(cursor, "rows")
        return int(found[0]) if found and found[0] else None

    def key_quantiles(self, keys, key, fractions):
        """The keys numbered by ``ROW_NUMBER()`` over their order, and the total by
        ``COUNT(*) OVER ()``, in one sorting scan: the rows whose number ``percentile_disc``
        would pick (the first whose cumulative share reaches each fraction)."""
        if not fractions:
            return []
        sql, params = keys.values(batch_jobs_key=F(key)).order_by().query.sql_with_params()
        # f * 1e0 is a double, as Python's f * total: the same rounding as ceil() below.
        wanted = ", ".join(["GREATEST(CEIL(%s * 1e0 * total), 1)"] * len(fractions))
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT n, k, total FROM (SELECT q.batch_jobs_key AS k, "
                f"ROW_NUMBER() OVER (ORDER BY q.batch_jobs_key) AS n, COUNT(*) OVER () AS total "
                f"FROM ({sql}) AS q) AS numbered WHERE n IN ({wanted})",
                [*params, *fractions],
            )
            found = cursor.fetchall()
        if not found:
            return []
        total = found[0][2]
        by_number = {n: k for n, k, _ in found}
        return [by_number[max(math.ceil(f * total), 1)] for f in fractions]

    # -- health -----------------------------------------------------------------------------

    def replica_lag(self):
        """The largest ``Seconds_Behind_Master`` (``Seconds_Behind_Source`` on MySQL 8.0.22+)
        of the replicas ``JOB_REPLICA_DATABASES`` names, each read on the replica itself, as
        pt-online-schema-change does: a replica whose SQL or I/O thread is stopped (NULL), or
        that replicates nothing, lags without end. Each needs REPLICA MONITOR (MariaDB) or
        REPLICATION CLIENT (MySQL)."""
        lags = [replica_lag_of(connections[alias]) for alias in setting("JOB_REPLICA_DATABASES")]
        return max(lags, default=0.0)

    def lag_unseen(self):
        if not setting("JOB_REPLICA_DATABASES"):
            return (
                "MariaDB and MySQL show a replica's lag on the replica: name the replicas "
                "in JOB_REPLICA_DATABASES"
            )
        return ""

    def active_backends(self):
        """``Threads_running`` (pt-online-schema-change's ``--max-load``), less this session's
        own thread and the primary's binlog dump threads, one per replica, which count as
        running while they wait for the next event (seen with the PROCESS privilege; without
        it, they stay counted)."""
        with self.connection.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Threads_running'")
            row = cursor.fetchone()
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                "WHERE COMMAND LIKE 'Binlog Dump%%'"
            )
            dumps = cursor.fetchone()[0]
        return max(int(row[1]) - 1 - dumps, 0) if row else 0

    # -- the client-side deadline -----------------------------------------------------------

    def cut(self):
        """Shut down the connection's socket (its descriptor remembered while it was idle).

        ``shutdown`` (not ``close``) leaves the descriptor to the client library, so no other
        file can take its number while the library still holds it; its next read or write
        fails at once (CR_SERVER_LOST, 2013).
        """
        raw = self.connection.connection
        session = _SESSIONS.get(raw) if raw is not None else None
        if session is None or not getattr(raw, "open", False):
            return False  # never connected, or closed already: its number may be another's
        try:
            descriptor = os.dup(session.descriptor)
        except OSError:
            return False
        with socket.socket(fileno=descriptor) as sock, contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return True

    # -- a stop signal ----------------------------------------------------------------------

    def cancel(self):
        """mysqlclient waits for a statement in C: ``KILL QUERY`` it from a second, short
        connection, when the session runs one (an idle session is left alone)."""
        raw = self.connection.connection
        session = _SESSIONS.get(raw) if raw is not None else None
        if session is None:
            return
        thread = session.thread_id
        with contextlib.suppress(Exception):
            params = self.connection.get_connection_params()
            params["connect_timeout"] = 5
            other = self.connection.Database.connect(**params)
            try:
                cursor = other.cursor()
                cursor.execute(
                    "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = %s", [thread]
                )
                row = cursor.fetchone()
                if row and row[0] == "Query":
                    cursor.execute(f"KILL QUERY {int(thread)}")
            finally:
                other.close()

    def was_cancelled(self, exc):
        return error_number(exc) == QUERY_INTERRUPTED


def column_type(field, connection):
    """The column type of ``field`` for a staging table: the column's own type, without
    ``AUTO_INCREMENT`` (``rel_db_type``, as a foreign key to it has), with its collation."""
    typed = field.rel_db_type(connection)
    collation = field.db_parameters(connection).get("collation")
    return f"{typed} COLLATE {collation}" if collation else typed


#: The column types a MEMORY table takes (its rows are fixed-width: no TEXT, BLOB, JSON or
#: spatial types, which are BLOBs to it), by their first word as Django writes them.
MEMORY_TYPES = {
    *("bool", "boolean", "tinyint", "smallint", "mediumint", "int", "integer", "bigint"),
    *("decimal", "numeric", "double", "float", "real"),
    *("char", "varchar", "binary", "varbinary"),
    *("date", "datetime", "time", "timestamp", "year"),
}
#: What MEMORY refuses: a full table (ER_RECORD_FILE_FULL, max_heap_table_size), a row too
#: wide (ER_TOO_BIG_ROWSIZE), a BLOB column (ER_TABLE_CANT_HANDLE_BLOB), the engine missing
#: or disabled (ER_UNKNOWN_STORAGE_ENGINE, ER_DISABLED_STORAGE_ENGINE on MySQL).
MEMORY_REFUSALS = {1114, 1118, 1163, 1286, 3161}


def fits_in_memory(column_type):
    """Whether a MEMORY table takes a column of ``column_type``."""
    first = re.match(r"[a-z]+", column_type.lower())
    return first is not None and first.group() in MEMORY_TYPES


#: ER_PARSE_ERROR: a server older than SHOW REPLICA STATUS.
PARSE_ERROR = 1064


def replica_lag_of(replica):
    """``replica``'s lag in seconds, read on it (a Django connection); ``math.inf`` when it
    replicates nothing, a replication thread is stopped, or it cannot be reached (the walk
    waits for it as for a lagging one, up to ``--max-health-wait``)."""
    try:
        with replica.cursor() as cursor:
            try:
                cursor.execute("SHOW REPLICA STATUS")  # MariaDB 10.5+, MySQL 8.0.22+
            except DatabaseError as exc:
                if error_number(exc) != PARSE_ERROR:
                    raise
                cursor.execute("SHOW SLAVE STATUS")
            names = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchall()
    except OperationalError:
        replica.close()  # the next look opens a new connection
        return math.inf
    if not rows:
        return math.inf
    lags = []
    for row in rows:  # a MariaDB multi-source replica has a row per source
        status = dict(zip(names, row, strict=True))
        lag = status.get("Seconds_Behind_Master", status.get("Seconds_Behind_Source"))
        lags.append(math.inf if lag is None else float(lag))
    return max(lags)


def _column(cursor, name):
    """The values of column ``name`` (any case) of ``cursor``'s result."""
    names = [d[0].lower() for d in cursor.description or ()]
    if name not in names:
        return []
    index = names.index(name)
    return [row[index] for row in cursor.fetchall()]
