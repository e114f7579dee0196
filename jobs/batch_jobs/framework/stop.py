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
import signal
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
    """An operator stopped the run, or paused its job (``batch_jobs.framework.runcontrol``): stop at
    this batch boundary, keeping the checkpoint (exit 3)."""

    def __init__(self, by, reason):
        super().__init__(reason)
        self.by = by


class StopSignals:
    """Process-wide stop state. The outermost run listens (``lifecycle`` decides which that
    is); the runs nested in it (``call_command``) share its state."""

    def __init__(self):
        self.signum = None
        self.cooperative = False
        self._previous = {}
        self._woken = threading.Event()

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
            self.cooperative = False
            self._woken.clear()
            self._previous = {s: signal.signal(s, self._handle) for s in HANDLED_SIGNALS}
        try:
            yield self
        finally:
            if install:
                for s, handler in self._previous.items():
                    signal.signal(s, handler)
                self._previous = {}

    def cooperate(self):
        """The run checks for stops: from now on the first signal waits for its check."""
        self.cooperative = True

    def wait(self, seconds):
        """Sleep ``seconds``, or less if a stop signal comes: then the caller's next check
        stops the run at this boundary, at once."""
        self._woken.wait(seconds)

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            self._woken.set()
            if not self.cooperative:
                raise JobStopped(signum)
            logger.warning(
                "stop requested by %s: finishing the current batch (send it again to stop now)",
                signal.Signals(signum).name,
                extra={"event": "stop_requested", "signal": signal.Signals(signum).name},
            )
            return
        raise JobStopped(signum)


STOP = StopSignals()
