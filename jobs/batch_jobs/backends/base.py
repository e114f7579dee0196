"""The database interface, with the generic fallbacks any Django backend gets.

A vendor module subclasses ``DatabaseBackend`` and overrides what its database does better;
what it leaves alone works everywhere Django does, at the cost its ``degraded`` list names.
"""

import fcntl
import functools
import hashlib
import math
import os
import tempfile

from django.db import InterfaceError, OperationalError, models


class FileLock:
    """An exclusive, non-blocking ``flock``; the kernel frees it when the process dies."""

    def __init__(self, key):
        digest = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
        self.path = os.path.join(tempfile.gettempdir(), f"django-jobs-{digest}.lock")
        self._fd = None

    def acquire(self):
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _open(self):
        """The lock file, read-only: flock needs no more. Created readable by all, so that
        another user running the same job on the same database meets the lock; opened
        without O_CREAT when it exists, which a sticky /tmp (fs.protected_regular) refuses
        on a file of another user's."""
        while True:
            try:
                return os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                pass
            try:
                return os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue  # another process made it in between: open that one

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SessionLock:
    """A lock the server holds for one session of a connection that stays open for the whole
    run, and frees when that session ends, however it ends. A vendor gives the statements:
    ``try_sql`` answers 1 (or true) when it took the lock; ``release_sql`` frees it."""

    try_sql = release_sql = None

    def __init__(self, connection, name):
        self.connection = connection
        self.name = name
        self._session = None

    def acquire(self):
        with self.connection.cursor() as cursor:
            cursor.execute(self.try_sql, [self.name])
            held = cursor.fetchone()[0] == 1  # 0 or false: another session holds it
        if held:
            self._session = self.connection.connection
        return held

    def release(self):
        if self.connection.connection is not self._session:
            return  # that session is gone, and its lock with it
        with self.connection.cursor() as cursor:
            cursor.execute(self.release_sql, [self.name])


#: What ``DatabaseBackend.unusable`` may tell of an error: a table missing (the migrations
#: not applied), a database this session may not write, a privilege missing.
MISSING_TABLE, READ_ONLY, NO_PRIVILEGE = "missing table", "read-only", "no privilege"


class DatabaseBackend:
    """What the framework needs from a database, for one Django connection."""

    #: What this database does not get, one sentence each (the system check says them).
    degraded = (
        "the overlap lock is a file lock, so it holds on one machine only",
        "update_rows writes with bulk_update (a CASE WHEN per row) instead of COPY",
        "--max-lag and --max-active are not consulted",
        "a sharded walk plans its ranges with one OFFSET query per cut",
        "progress has no estimate of a walk's total rows",
        "JOB_DB_TIMEOUT cannot cut a connection that stops answering",
        "a timed-out batch is not retried at half its size",
    )
    #: Whether the run records and the lock go through a second connection of the
    #: framework's own (else the default one: an in-memory SQLite database is private).
    separate_control_connection = False
    #: Whether --max-lag and --max-active are consulted (a job's own checks always are).
    has_health = False

    def __init__(self, connection):
        self.connection = connection

    # -- errors -----------------------------------------------------------------------------

    def transient_errors(self):
        """Exception classes that say "try again later" (a lost connection, a serialization
        failure, a deadlock, a timeout): Django's, and the driver's own for the calls Django
        does not wrap."""
        return (OperationalError, InterfaceError, self.connection.Database.OperationalError)

    def is_permanent(self, exc):
        """Whether ``exc``, one of ``transient_errors()``, is one that retrying cannot fix."""
        return False

    def timed_out(self, exc):
        """Whether ``exc`` is the server's statement or lock timeout: the transaction is gone,
        the connection is fine."""
        return False

    def unusable(self, exc):
        """Whether ``exc`` says the database cannot serve the job as set up, which retrying
        cannot fix: ``MISSING_TABLE``, ``READ_ONLY``, ``NO_PRIVILEGE``, or ``None``."""
        return None

    def is_config_failure(self, exc):
        """Whether a failed connect (``exc``) is a configuration error (wrong credentials or
        database name), which waiting cannot fix."""
        return False

    # -- the overlap lock -------------------------------------------------------------------

    def lock(self, key):
        """A lock object (``acquire()`` -> bool, ``release()``) for ``key``: a file lock named
        for the database as well, so that projects sharing a machine do not block each other."""
        return FileLock(f"{self.database_identity()}|{key}")

    def database_identity(self):
        """What tells this database apart from another project's on the same machine."""
        db = self.connection.settings_dict
        return (
            f"{self.connection.vendor}:{db.get('HOST') or ''}:{db.get('PORT') or ''}:{db['NAME']}"
        )

    # -- the walk ---------------------------------------------------------------------------

    def update_rows(self, model, fields, rows, key, using):
        """Write ``rows`` (tuples ``(key, *values)`` for ``fields``); the rows updated."""
        objs = [model(pk=row[0], **dict(zip(fields, row[1:], strict=True))) for row in rows]
        return model.objects.using(using).bulk_update(objs, fields)

    def estimated_rows(self, queryset):
        """An estimate of the rows in ``queryset``'s table, or ``None``."""
        return None

    def key_quantiles(self, keys, key, fractions):
        """The keys at ``fractions`` (0 < f < 1) of ``keys``, a ``values_list`` of ``key``."""
        total = keys.count()  # then one OFFSET per cut
        ordered = keys.order_by(key)
        # The key percentile_disc(f) picks: the first whose cumulative share reaches f.
        return [ordered[max(math.ceil(f * total), 1) - 1] for f in fractions] if total else []

    # -- health -----------------------------------------------------------------------------

    def replica_lag(self):
        """The largest replay lag of the database's replicas, in seconds (0: none)."""
        return 0.0

    def lag_unseen(self):
        """Why ``replica_lag`` cannot see the replicas' lag (a one-line reason), or ``""``."""
        if not self.has_health:
            return f"{self.connection.vendor} has no replica lag the framework reads"
        return ""

    def active_backends(self):
        """Sessions running a statement now, this one left out."""
        return 0

    # -- the client-side deadline -----------------------------------------------------------

    def cut(self):
        """Make the connection's blocked call fail at once; whether there was one to cut."""
        return False

    # -- a stop signal ----------------------------------------------------------------------

    def cancel(self):
        """Cancel the statement the connection runs now, from another thread, where the
        driver waits in C code that no Python signal handler interrupts."""

    def was_cancelled(self, exc):
        """Whether ``exc`` is what ``cancel()`` makes the running statement raise."""
        return False


# -- which values go to the database as they are -------------------------------------------

#: Django's fields whose values the drivers take as they are (text, whole numbers, floats,
#: booleans), by internal type: PostgreSQL's COPY and MySQL's multi-row INSERT alike.
_PLAIN_TYPES = {
    "AutoField": models.AutoField,
    "BigAutoField": models.BigAutoField,
    "SmallAutoField": models.SmallAutoField,
    "IntegerField": models.IntegerField,
    "BigIntegerField": models.BigIntegerField,
    "SmallIntegerField": models.SmallIntegerField,
    "PositiveIntegerField": models.PositiveIntegerField,
    "PositiveBigIntegerField": models.PositiveBigIntegerField,
    "PositiveSmallIntegerField": models.PositiveSmallIntegerField,
    "CharField": models.CharField,
    "TextField": models.TextField,
    "EmailField": models.EmailField,
    "SlugField": models.SlugField,
    "URLField": models.URLField,
    "FloatField": models.FloatField,
    "BooleanField": models.BooleanField,
}


@functools.cache
def _plain(field_class):
    """Whether ``field_class`` prepares values as Django's own plain field does: a subclass
    that overrides the preparation (an encrypting field, say) is not plain."""
    for base_class in field_class.__mro__:
        if base_class in _PLAIN_TYPES.values():
            return all(
                getattr(field_class, name) is getattr(base_class, name)
                for name in ("get_prep_value", "get_db_prep_value")
            )
    return False


def passes_through(field):
    """Whether ``field``'s values go to the driver unprepared: Django's preparation of them (the
    ``get_db_prep_value`` per value, a few microseconds each) would change nothing."""
    return _plain(type(field))


def staging_table(connection, model, fields, key):
    """What ``update_rows`` stages a batch's rows in, quoted: the model's table, the columns
    (the key first) and their names, and a temporary table named for the two."""
    meta = model._meta
    key_field = meta.pk if key == "pk" else meta.get_field(key)
    columns = [key_field] + [meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    names = [qn(f.column) for f in columns]
    signature = hashlib.blake2b(",".join([meta.db_table, *names]).encode(), digest_size=6)
    staging = qn(f"batch_jobs_rows_{signature.hexdigest()}")
    return qn(meta.db_table), columns, names, staging
