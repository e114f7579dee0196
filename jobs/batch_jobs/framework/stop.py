"""Graceful stop: SIGTERM/SIGINT ask the job to stop at the next batch boundary.

The first signal sets a flag that batch loops check between batches (``JobCommand.check_stop``),
so the batch in flight commits or rolls back as a whole. A second signal raises ``JobStopped``
at once, which rolls back the open transaction on its way out.
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
    """Process-wide stop state. Re-entrant, so nested jobs (``call_command``) share it."""

    def __init__(self):
        self.signum = None
        self._depth = 0
        self._previous = {}

    @property
    def requested(self):
        return self.signum is not None

    @contextlib.contextmanager
    def listening(self):
        """Handle SIGTERM/SIGINT for the duration of the block (main thread only)."""
        outermost = self._depth == 0
        install = outermost and threading.current_thread() is threading.main_thread()
        if install:
            self.signum = None
            self._previous = {s: signal.signal(s, self._handle) for s in HANDLED_SIGNALS}
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if install:
                for s, handler in self._previous.items():
                    signal.signal(s, handler)
                self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            logger.warning(
                "stop requested by %s: finishing the current batch (send it again to stop now)",
                signal.Signals(signum).name,
                extra={"event": "stop_requested", "signal": signal.Signals(signum).name},
            )
            return
        raise JobStopped(signum)


STOP = StopSignals()
