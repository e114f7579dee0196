"""Locks as another session sees and holds them: PostgreSQL's advisory locks, or MariaDB's
named locks (``GET_LOCK``) for a ``tests.support.sessions.Session`` on MariaDB."""

import time

from batch_jobs.framework.lock import lock_id

#: A session's transaction status outside a transaction, in psycopg 3 and psycopg 2 alike.
IDLE = 0


def _is_mysql(conn):
    return getattr(conn, "vendor", "postgresql") == "mysql"


def _mysql_name(conn, key):
    from batch_jobs.backends.mysql import lock_name

    return lock_name(conn.database, key)


def hold_lock(conn, key):
    """Take the job lock ``key`` on ``conn``, as another run of the job holds it."""
    if _is_mysql(conn):
        held = conn.execute("SELECT GET_LOCK(%s, 10)", [_mysql_name(conn, key)]).fetchone()[0]
        assert held == 1, f"GET_LOCK returned {held!r}"
    else:
        conn.execute("SELECT pg_advisory_lock(%s)", [lock_id(key)])


def try_lock(conn, key):
    """Whether ``conn`` can take the job lock ``key`` now (released again at once)."""
    if _is_mysql(conn):
        name = _mysql_name(conn, key)
        if conn.execute("SELECT GET_LOCK(%s, 0)", [name]).fetchone()[0] == 1:
            conn.execute("SELECT RELEASE_LOCK(%s)", [name])
            return True
        return False
    lock = lock_id(key)
    if conn.execute("SELECT pg_try_advisory_lock(%s)", [lock]).fetchone()[0]:
        conn.execute("SELECT pg_advisory_unlock(%s)", [lock])
        return True
    return False


def lock_is_free(conn, key, timeout=10):
    """Whether ``conn`` can take the job lock ``key`` within ``timeout`` seconds: the server
    frees a session's lock as soon as it sees its connection gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if try_lock(conn, key):
            return True
        time.sleep(0.05)
    return False


def unlock(session):
    """End ``session``'s transaction, and with it the locks it holds (a psycopg 3 connection
    or a ``tests.support.sessions.Session``; on MariaDB, its LOCK TABLES too)."""
    if _is_mysql(session):
        session.execute("UNLOCK TABLES")
        session.execute("ROLLBACK")
        return
    if session.info.transaction_status != IDLE:
        session.execute("ROLLBACK")


def waited_on(session):
    """How many sessions wait for a lock on testjobs_item (PostgreSQL's ``pg_locks``, MariaDB's
    metadata lock waits), as ``session`` sees them."""
    if _is_mysql(session):
        sql = (
            "SELECT count(*) FROM information_schema.PROCESSLIST "
            "WHERE STATE LIKE 'Waiting for table metadata lock%%'"
        )
    else:
        sql = (
            "SELECT count(*) FROM pg_locks"
            " WHERE NOT granted AND relation = 'testjobs_item'::regclass"
        )
    return session.execute(sql).fetchone()[0]
