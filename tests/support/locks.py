"""Locks as another session sees and holds them."""

import time

from batch_jobs.framework.lock import lock_id

#: A session's transaction status outside a transaction, in psycopg 3 and psycopg 2 alike.
IDLE = 0


def lock_is_free(conn, key, timeout=10):
    """Whether ``conn`` can take the advisory lock ``key`` within ``timeout`` seconds: the
    server frees a session lock as soon as it sees its connection gone."""
    lock = lock_id(key)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.execute("SELECT pg_try_advisory_lock(%s)", [lock]).fetchone()[0]:
            conn.execute("SELECT pg_advisory_unlock(%s)", [lock])
            return True
        time.sleep(0.05)
    return False


def unlock(session):
    """End ``session``'s transaction, and with it the locks it holds (a psycopg 3 connection
    or a ``tests.support.sessions.Session``)."""
    if session.info.transaction_status != IDLE:
        session.execute("ROLLBACK")
