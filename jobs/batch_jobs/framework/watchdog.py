"""A client-side deadline on database calls, for a server that stops answering.

A PostgreSQL server that is frozen (``docker pause``, a VM stalled, a network that drops
packets without resetting) never answers and never closes the connection: its kernel still
acknowledges TCP, so keepalives do not notice, and a server-side ``statement_timeout`` cannot
fire. Without a deadline of its own the job would hang until the scheduler kills it.

While a job runs (``WATCHDOG.watching(limit)``), one deadline is armed around each unit of
work: each batch in ``JobCommand.atomic()``, which ``run_batches`` uses (its queries, its
checkpoint and its COMMIT, through ``WATCHDOG.guard()``), and each statement outside a batch
(through Django's ``execute_wrapper``). When it passes, a background thread shuts down the
sockets of the job's PostgreSQL connections. The blocked call then fails at once as a lost
connection; the server rolls back the open transaction and frees the session advisory lock
when it sees the connections gone, and the job exits 75 with one line. Arming costs a few
microseconds.
"""

import contextlib
import threading
import time

from django.db import OperationalError, connections

from batch_jobs.backends import backend_for


class DatabaseTimeout(OperationalError):
    """The database did not answer within the deadline; the job's connections are closed."""


class Watchdog:
    """One deadline at a time, for the main thread's connections; nested guards join the
    outermost one, so a batch's deadline covers the statements inside it."""

    def __init__(self):
        self._limit = None  # seconds of the next guard's deadline, a function; None: off
        self._cond = threading.Condition()
        self._deadline = None
        self._databases = ()
        self._fired = False
        self._cut = []
        self._thread = None
        self._wakes_at = None  # when the watching thread wakes next; None: when notified

    @contextlib.contextmanager
    def watching(self, limit, *also):
        """Guard every statement for the block, on every connection of ``DATABASES`` and on
        ``also`` (connections kept outside it), with ``limit()`` seconds (0 or ``None``: no
        deadline) as the limit of each ``guard()``: read as each one starts, so that a job run
        by another job sets its own (the outermost run watches, ``lifecycle`` decides which).
        ``limit`` may be a number too.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._limit = limit if callable(limit) else lambda: limit
        try:
            with contextlib.ExitStack() as stack:
                self._databases = list({id(d): d for d in [*connections.all(), *also]}.values())
                for database in self._databases:
                    backend_for(database)  # chosen here, not in the watching thread
                    stack.enter_context(database.execute_wrapper(self._guard_statement))
                yield self
        finally:
            self._limit = None
            self._databases = ()

    def _guard_statement(self, execute, sql, params, many, context):
        with self.guard():
            return execute(sql, params, many, context)

    @contextlib.contextmanager
    def guard(self):
        """Cut the connections if the block has not finished within the current limit; then
        raise ``DatabaseTimeout``. A no-op without a limit, outside the main thread and inside
        another guard."""
        seconds = self._limit() if self._limit is not None else None
        if (
            not seconds
            or self._deadline is not None
            or threading.current_thread() is not threading.main_thread()
        ):
            yield
            return
        with self._cond:
            self._deadline = time.monotonic() + seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="job-watchdog")
                self._thread.daemon = True
                self._thread.start()
            elif self._wakes_at is None or self._deadline < self._wakes_at:
                self._cond.notify()  # else it wakes for an earlier deadline and sees this one
        reason = f"no answer from the database within {seconds:g}s (JOB_DB_TIMEOUT)"
        try:
            yield
        except Exception as exc:
            if self._disarm():
                raise DatabaseTimeout(reason) from exc
            raise
        except BaseException:
            self._disarm()
            raise
        else:
            if self._disarm():  # the call returned just as the deadline passed
                raise DatabaseTimeout(reason)

    def _disarm(self):
        """Disarm; whether the deadline had fired (then close the connections it cut)."""
        with self._cond:
            self._deadline, self._fired = None, False
            cut, self._cut = self._cut, []
        for database in cut:
            database.close()  # the next query opens a new connection
        return bool(cut)

    def _watch(self):
        with self._cond:
            while True:
                if self._deadline is None or self._fired:
                    self._wakes_at = None
                    self._cond.wait()
                elif (remaining := self._deadline - time.monotonic()) > 0:
                    self._wakes_at = self._deadline
                    self._cond.wait(remaining)
                else:
                    self._fired = True
                    self._cut = [database for database in self._databases if cut(database)]

    def interrupt(self):
        """Cancel the statements the watched connections run now (from a signal's helper
        thread: the main thread may be waiting in a driver's C code)."""
        for database in self._databases:
            backend_for(database).cancel()


def cut(database):
    """Make the blocked call of ``database``'s connection fail at once (on PostgreSQL, shut
    down its socket); whether there was one to cut."""
    return backend_for(database).cut()


WATCHDOG = Watchdog()
