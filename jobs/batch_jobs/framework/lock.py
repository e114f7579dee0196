"""The overlap lock: at most one run of a job (per lock key) at a time.

On PostgreSQL it is a session advisory lock on the job-control connection: held while that
connection lives, so a crashed holder frees it when the server notices the connection is gone,
and nothing has to expire. On other databases (the local SQLite default) an ``flock`` on a
file in the temporary directory gives the same behaviour on one machine.
"""

import fcntl
import hashlib
import os
import tempfile


def lock_id(key):
    """The signed 64-bit advisory-lock id of ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a connection that stays open for the whole run."""

    def __init__(self, connection, key):
        self.connection = connection
        self.id = lock_id(key)
        self._session = None

    def acquire(self):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.id])
            held = cursor.fetchone()[0]
        if held:
            self._session = self.connection.connection
        return held

    def release(self):
        if self.connection.connection is not self._session:
            return  # that session is gone, and its lock with it
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [self.id])


class FileLock:
    """An exclusive, non-blocking ``flock``; the kernel frees it when the process dies."""

    def __init__(self, key):
        digest = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
        self.path = os.path.join(tempfile.gettempdir(), f"django-jobs-{digest}.lock")
        self._fd = None

    def acquire(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_for(connection, key):
    """The right kind of lock for ``connection``'s database."""
    if connection.vendor == "postgresql":
        return AdvisoryLock(connection, key)
    return FileLock(key)
