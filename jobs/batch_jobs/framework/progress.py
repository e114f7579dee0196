"""Progress of long batch work: a live bar on a terminal, a steady log line elsewhere."""

import os
import sys
import time


class Progress:
    """Counts work done; reports it without flooding the logs.

    On a terminal with a known total it draws a bar with rate and ETA on stderr. At most every
    ``interval`` seconds (never once per row) it calls ``report(snapshot, drawn)``, ``drawn``
    saying whether the bar shows it already; ``JobCommand.progress`` passes a ``report`` that
    saves the snapshot to the run record and, unless drawn, logs a ``progress`` event.
    ``close()`` hands the last snapshot to ``settle``, if given, so the record ends exact.

    ``before`` counts what earlier runs of a resumed walk did: the ETA is for what is left of
    ``total``, while ``done`` and the rate are this run's. ``estimated`` marks a total that is
    PostgreSQL's estimate of the table's size rather than a count.
    """

    def __init__(
        self,
        report,
        total=None,
        interval=10.0,
        unit="rows",
        stream=None,
        before=0,
        estimated=False,
        settle=None,
    ):
        self.report = report
        self.settle = settle
        self.total = total
        self.interval = interval
        self.unit = unit
        self.before = before
        self.estimated = estimated
        self.done = 0
        self.extra = {}  # more to report, such as the batch size an adaptive walk chose
        self.started = self._last = time.monotonic()
        stream = stream or sys.stderr
        self._bar = None
        if total and terminal_width(stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=before, unit=unit, file=stream, dynamic_ncols=True
            )

    def advance(self, n):
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.report(self.snapshot(), self._bar is not None)

    def snapshot(self):
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        info = {"done": self.done, "rate": round(rate, 1), "unit": self.unit, **self.extra}
        if self.before:
            info["before"] = self.before
        if self.total:
            info["total"] = self.total
            if self.estimated:
                info["estimated"] = True
            if rate > 0:
                left = max(self.total - self.before - self.done, 0)
                info["eta_s"] = round(left / rate, 1)
        return info

    def close(self):
        if self.settle is not None:
            self.settle(self.snapshot())
            self.settle = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def terminal_width(stream):
    """The columns of the terminal ``stream`` writes to, or 0: not a terminal, or one nobody
    gave a size (``docker run -t`` under CI), on which tqdm would draw nothing."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else 0
    except (AttributeError, ValueError, OSError):
        return 0
