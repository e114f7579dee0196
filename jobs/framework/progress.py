"""Progress of long batch work: a live bar on a terminal, a steady log line elsewhere."""

import os
import sys
import time


class Progress:
    """Counts work done; reports it without flooding the logs.

    On a terminal with a known total it draws a bar with rate and ETA on stderr. Otherwise (and
    on a terminal without a size, where the bar would be empty) it calls ``report(snapshot)``
    at most every ``interval`` seconds (never once per row); ``JobCommand.progress`` passes a
    ``report`` that logs a ``progress`` event and saves the counters to the run record.
    """

    def __init__(self, report, total=None, interval=10.0, unit="rows", stream=None):
        self.report = report
        self.total = total
        self.interval = interval
        self.unit = unit
        self.done = 0
        self.started = self._last = time.monotonic()
        stream = stream or sys.stderr
        self._bar = None
        if total and terminal_width(stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, file=stream, dynamic_ncols=True)

    def advance(self, n):
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.report(self.snapshot())

    def snapshot(self):
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        info = {"done": self.done, "rate": round(rate, 1), "unit": self.unit}
        if self.total:
            info["total"] = self.total
            if rate > 0:
                info["eta_s"] = round(max(self.total - self.done, 0) / rate, 1)
        return info

    def close(self):
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
