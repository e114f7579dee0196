"""Output capture: the last lines a run printed on stdout and stderr, kept for its record.

The outermost run of a process puts a ``Tee`` on each stream it writes to (the process's
``sys.stdout`` and ``sys.stderr``, the command's ``self.stdout``/``self.stderr``, or the streams
given to ``call_command``): what is written still goes where it went, and each line is also
kept in a ``Capture``, a ``deque`` of ``JOB_OUTPUT_LINES`` lines. Memory stays bounded whatever
the job prints (ten million lines keep the last hundred): a line is cut to
``LINE_CHARS * 4`` characters as it is kept, and a line still open (no newline yet) is cut the
same way.

The record gets the lines (``JobRun.output``: ``{"lines": [[stream, line], ...], "total": N}``)
with the progress saves and at the finish, and every ``JOB_PROGRESS_INTERVAL`` while the job
prints (for the console's live view of a job without batches). Each line is redacted there,
when it is saved (``redact.shown``: the run's secrets and every secret-shaped pair redacted,
control characters escaped, cut to ``LINE_CHARS``).
"""

import collections
import threading
import time

from batch_jobs.framework.redact import shown

#: The most characters of one line a record keeps.
LINE_CHARS = 500
#: The most characters of one line kept while the run goes on: more than ``LINE_CHARS``, so
#: that a secret across the cut is still whole when it is redacted.
KEPT_CHARS = LINE_CHARS * 4


class Capture:
    """The last ``lines`` lines written to the streams, and how many were written in all."""

    def __init__(self, lines, on_line=None):
        self.lines = collections.deque(maxlen=lines)
        self.total = 0
        self.open = {}  # stream name: the start of its line not ended yet
        self.on_line = on_line  # called after each kept line (a periodic save)
        self.mutex = threading.Lock()

    def feed(self, stream, text):
        if not text or not isinstance(text, str):
            return
        if text[-1] == "\n" and text.find("\n") == len(text) - 1 and stream not in self.open:
            # The common case, one whole line: no lock (a deque's append is atomic).
            self.lines.append([stream, text[:-1][:KEPT_CHARS], None])
            self.total += 1
        else:
            self.feed_lines(stream, text)
        if self.on_line is not None:
            self.on_line()

    def feed_lines(self, stream, text):
        """Any text: no line, part of one, several."""
        with self.mutex:
            parts = text.split("\n")
            head = self.open.pop(stream, "")
            if len(parts) == 1:
                self.open[stream] = (head + text)[:KEPT_CHARS]
                return
            first, *middle, last = parts
            ended = [(head + first)[:KEPT_CHARS], *middle[-self.lines.maxlen :]]
            self.total += 1 + len(middle)
            self.lines.extend([stream, line[:KEPT_CHARS], None] for line in ended)
            if last:
                self.open[stream] = last[:KEPT_CHARS]

    def snapshot(self):
        """The record's ``output``: the kept lines (and the lines not ended yet), redacted,
        printable and bounded."""
        with self.mutex:
            kept = list(self.lines) + [[s, line, None] for s, line in self.open.items() if line]
            total = self.total + sum(1 for line in self.open.values() if line)
        kept = kept[-self.lines.maxlen :] if self.lines.maxlen else []
        for line in kept:  # each kept line is redacted once, at its first save
            if line[2] is None:
                line[2] = shown(line[1], LINE_CHARS)
        return {"lines": [[stream, text] for stream, _, text in kept], "total": total}


class Tee:
    """A stream that writes through to ``stream`` and feeds what it writes to a capture."""

    def __init__(self, stream, capture, name):
        self._stream = stream
        self._capture = capture
        self._name = name
        self._write = stream.write
        self._feed = capture.feed

    def write(self, text):
        written = self._write(text)
        self._feed(self._name, text)
        return written

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):  # flush, isatty, fileno, encoding, buffer...
        return getattr(self._stream, name)


class Saver:
    """Saves the record's output at most every ``every`` seconds, from the thread that runs
    the job (a connection belongs to its thread), never from inside its own save (a failure
    to save is logged, and the log line is output too)."""

    def __init__(self, save, every):
        self.save = save
        self.every = every
        self.next = time.monotonic() + every
        self.busy = False
        self.thread = threading.get_ident()

    def __call__(self):
        if time.monotonic() < self.next or self.busy or threading.get_ident() != self.thread:
            return
        self.busy = True
        try:
            self.save()
        except Exception:  # the job's output must never fail on its record
            pass
        finally:
            self.next = time.monotonic() + self.every
            self.busy = False
