"""Fixtures of the in-process framework tests: a second session, as another process has."""

import threading

import pytest

from tests.support.locks import unlock
from tests.support.sessions import open_session


@pytest.fixture
def other_session():
    """A second connection to the test database, as another process would have."""
    with open_session() as session:
        yield session


@pytest.fixture
def table_locked(other_session):
    """testjobs_item locked by another session: the job's first query on it gets no answer,
    as from a frozen server, until the lock goes (PostgreSQL's ACCESS EXCLUSIVE lock in a
    transaction, MariaDB's LOCK TABLES ... WRITE)."""
    if other_session.vendor == "mysql":
        other_session.execute("LOCK TABLES testjobs_item WRITE")
    else:
        other_session.execute("BEGIN")
        other_session.execute("LOCK TABLE testjobs_item IN ACCESS EXCLUSIVE MODE")
    # Without a working deadline the job waits: unlock after a while, so that the test then
    # fails (the job succeeds) instead of hanging.
    fallback = threading.Timer(20, unlock, [other_session])
    fallback.start()
    yield other_session
    fallback.cancel()
    unlock(other_session)
