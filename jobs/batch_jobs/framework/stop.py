"""Graceful stop: SIGTERM/SIGINT ask the job to stop at the next batch boundary.

In a run that checks for stops (``JobCommand.check_stop``, which ``run_batches`` calls between
batches), the first signal sets a flag that the next check turns into a stop, so the batch in
flight commits or rolls back as a whole; a pause between batches (``wait``) wakes at once. A
second signal raises ``JobStopped`` at once, which rolls back the open transaction on its way
out. A run that has not checked yet (a converted ``BaseCommand``) would never see the flag: the
first signal stops it at once, as ``KeyboardInterrupt`` stops a ``BaseCommand``.
"""

import contextlib
import logging
import os
import signal
import sys
import threading

logger = logging.getLogger("batch_jobs")

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class JobStopped(KeyboardInterrupt):
    """Raised when a job stops on a signal.

    A ``KeyboardInterrupt`` so that ``except Exception`` in a job does not swallow it and
    psycopg cancels the running query on its way out, as it does for Ctrl-C.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class RuntimeLimitReached(Exception):
    """``--max-runtime`` passed with work left; a later run resumes."""


class OperatorStop(Exception):
    """An operator stopped the run, or paused its job (``batch_jobs.framework.requests``): stop at
    this batch boundary, keeping the checkpoint (exit 3)."""

    def __init__(self, by, reason):
        super().__init__(reason)
        self.by = by


class StopSignals:
    """Process-wide stop state. The outermost run listens (``lifecycle`` decides which that
    is); the runs nested in it (``call_command``) share its state."""

    def __init__(self):
        self.signum = None
        #: Whether the first signal raises at once: in a job's own code until it checks for
        #: stops; never in the framework's bookkeeping around it (the record, the lock).
        self.at_once = False
        self._previous = {}
        self._woken = threading.Event()
        self._wakeup = None  # (read end, write end, previous wakeup fd, thread)
        self._seen = 0  # signals seen by the helper thread
        self._batches_left = None  # stop_after_batches: batches until a stop is requested

    @property
    def requested(self):
        return self.signum is not None

    @contextlib.contextmanager
    def listening(self):
        """Handle SIGTERM/SIGINT for the duration of the block (main thread only): the
        outermost run's, once per process."""
        install = threading.current_thread() is threading.main_thread()
        if install:
            self.signum = None
            self.at_once = False
            self._woken.clear()
            self._previous = {s: signal.signal(s, self._handle) for s in HANDLED_SIGNALS}
            self._watch_wakeups()
        try:
            yield self
        finally:
            if install:
                self._stop_watching_wakeups()
                for s, handler in self._previous.items():
                    signal.signal(s, handler)
                self._previous = {}

    # A Python signal handler runs only between bytecodes of the main thread: while it waits
    # in a driver's C code (psycopg 2 in libpq, sqlite3), a stop would wait for the statement
    # to end. Python writes each signal's number to the wakeup fd at once, though: a helper
    # thread reads it and, when the signal is to stop the run now, cancels the statement, so
    # that the main thread returns to Python and its handler runs.

    def _watch_wakeups(self):
        read, write = os.pipe()
        os.set_blocking(write, False)
        try:
            previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except ValueError:  # not the main thread after all
            os.close(read)
            os.close(write)
            return
        self._seen = 0
        thread = threading.Thread(target=self._interrupt_on, args=(read,), daemon=True)
        thread.name = "job-stop-signals"
        thread.start()
        self._wakeup = (read, write, previous, thread)

    def _stop_watching_wakeups(self):
        if self._wakeup is None:
            return
        read, write, previous, thread = self._wakeup
        self._wakeup = None
        signal.set_wakeup_fd(previous)
        os.close(write)  # the thread reads the end of the pipe and returns
        thread.join(timeout=5)
        os.close(read)

    def _interrupt_on(self, read):
        from batch_jobs.framework.watchdog import WATCHDOG

        while data := os.read(read, 64):
            for signum in data:
                if signum not in HANDLED_SIGNALS:
                    continue
                self._seen += 1
                if self.at_once or self._seen > 1:  # what the handler will stop at once
                    WATCHDOG.interrupt()

    def cooperate(self):
        """The run checks for stops: from now on the first signal waits for its check."""
        self.at_once = False

    def work_begins(self):
        """A job's own code starts: until it checks for stops, the first signal stops it at
        once; one that came during the bookkeeping before stops it now. Returns the state to
        give back to ``work_ends`` (a nested job's caller keeps its own)."""
        previous, self.at_once = self.at_once, True
        if self.signum is not None:
            raise JobStopped(self.signum)
        return previous

    def work_ends(self, previous=False):
        """The job's own code is over: a first signal no longer cuts what follows; then the
        caller's state (``previous``, from ``work_begins``) holds again."""
        self.at_once = previous

    def request(self, signum=signal.SIGTERM):
        """Ask for a stop as the first ``signum`` does: the run's next check stops it."""
        self.signum = signum
        self._woken.set()

    @contextlib.contextmanager
    def stop_after_batches(self, n):
        """Request a stop (as a first SIGTERM does) once ``n`` batches of a walk are done
        (``batch_jobs.testing``): the run then stops at that batch boundary."""
        if n < 1:
            raise ValueError(f"stop after at least one batch, not {n}")
        self._batches_left = n
        try:
            yield
        finally:
            if self._batches_left is None and self.signum == signal.SIGTERM:
                self.signum = None  # its own request, answered: nothing is left pending
            self._batches_left = None

    def batch_done(self):
        """A walk finished a batch: the hook ``stop_after_batches`` counts."""
        if self._batches_left is not None:
            self._batches_left -= 1
            if self._batches_left <= 0:
                self._batches_left = None
                self.request()

    def wait(self, seconds):
        """Sleep ``seconds``, or less if a stop signal comes: then the caller's next check
        stops the run at this boundary, at once."""
        self._woken.wait(seconds)

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            self._woken.set()
            if self.at_once:
                raise JobStopped(signum)
            logger.warning(
                "stop requested by %s: finishing the current batch (send it again to stop now)",
                signal.Signals(signum).name,
                extra={"event": "stop_requested", "signal": signal.Signals(signum).name},
            )
            return
        raise JobStopped(signum)


STOP = StopSignals()


class OutputClosed(Exception):
    """Standard output's reader went away (a write or flush failed with EPIPE): the run ends
    as SIGPIPE would end it, exit 141 (``ExitCode.OUTPUT_CLOSED``), and nothing more is
    written there. Not an ``OSError``, so that no ``except OSError`` in a job mistakes it for
    a failure of its own files or sockets."""

    def __init__(self):
        super().__init__("standard output closed: its reader went away")


class GuardedOutput:
    """A stream (``sys.stdout``) whose EPIPE becomes ``OutputClosed``. Following Python's
    recipe for SIGPIPE (the ``signal`` module's documentation), its descriptor then points
    at ``/dev/null``, so that later writes and the flush at exit succeed in saying nothing."""

    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def write(self, text):
        return self._guarded(self.stream.write, text)

    def writelines(self, lines):
        return self._guarded(self.stream.writelines, lines)

    def flush(self):
        return self._guarded(self.stream.flush)

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)
            raise OutputClosed() from None


def guard_stdout():
    """Install ``GuardedOutput`` on ``sys.stdout``, once: for the console scripts, before the
    command writes anything."""
    if not isinstance(sys.stdout, GuardedOutput) and sys.stdout is not None:
        sys.stdout = GuardedOutput(sys.stdout)
