"""The web process's log lines to standard error in batches, written by one thread a moment later.

Under granian every request's ``wsgi.errors`` is the process's standard error, and each request writes
one line there (``web.record_request``). Written at once, that line is a ``write`` system call in the
request's thread, which lets go of the GIL for it, so that the other request thread takes over. Side
by side under the ``Procfile``'s ``web:`` line (one core, ``wrk -c16``, alternating rounds), writing
the lines in batches served 4-9 % more warm iframe loads per second than writing each at once.

So a line bound for the process's standard error (``sys.__stderr__``, the stream the process started
with) is put in a queue instead, and one thread writes what the queue
holds in one ``write`` a short while after the first line arrives (``APP_LOG_BATCH_SECONDS``, 0.05 s
by default; 0 writes each line at once, as before):

* lines keep their order (one queue, one writer, and a caller that drains it takes the writer's lock);
* nothing waits longer than that delay, but a queue of :data:`MAX_PENDING` lines is written by the
  thread that fills it, so memory stays bounded when standard error is slow;
* at exit what is left is written (``atexit``, and ``flush_soon``'s finalizer in a granian worker);
  a process killed outright (``SIGKILL``, a crash of the interpreter) loses at most the last delay's
  lines;
* a forked child starts with an empty queue and no writer thread of its own until its first line;
* an idle process has no thread waking up: the writer waits for a first line.

Lines to any other stream (gunicorn's ``wsgi.errors``, a test's capture of ``sys.stderr``) are written
at once, as before.
"""

from __future__ import annotations

import collections
import sys
import threading
from typing import Final, TextIO

from app.observability.flush_soon import FlushSoon, track

#: The delay by default (``APP_LOG_BATCH_SECONDS``).
DEFAULT_DELAY: Final = 0.05
#: Lines queued at most; the line that fills the queue is written with it by its own thread.
MAX_PENDING: Final = 10_000


class BatchedStderr:
    """A queue of lines for ``sys.__stderr__`` and the thread that writes them in batches."""

    def __init__(self, delay: float = DEFAULT_DELAY) -> None:
        self.delay = delay
        self._reset()

    def _reset(self) -> None:
        self._lines: collections.deque[str] = collections.deque()
        self._writing = threading.Lock()  # one drain at a time: the lines keep their order
        self._soon = FlushSoon(self.flush, lambda: self.delay, "log-lines")

    def put(self, line: str) -> None:
        """Queue ``line`` (ending in a newline) for standard error."""
        if self.delay <= 0:
            _write(sys.__stderr__, line)
            return
        lines = self._lines
        lines.append(line)  # deque.append is atomic: no lock on a request's path
        if len(lines) >= MAX_PENDING:
            self.flush()
            return
        self._soon.poke()

    def flush(self) -> None:
        """Write every queued line now, in order, in one write."""
        with self._writing:
            lines = self._lines
            batch = [lines.popleft() for _ in range(len(lines))]
            if batch:
                _write(sys.__stderr__, "".join(batch))

    def pending(self) -> int:
        return len(self._lines)

    def after_fork_in_child(self) -> None:
        """The parent's queue, locks and thread are not the child's (``os.register_at_fork``)."""
        self._reset()


def _write(stream: TextIO | None, text: str) -> None:
    if stream is None:  # started without a standard error (pythonw, a daemon): nowhere to write
        return
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # standard error closed or gone: nowhere left to say so
        pass


#: The process's queue for standard error (``configure`` sets its delay).
stderr_lines = track(BatchedStderr())


def configure(delay: float) -> None:
    """Set the delay (``APP_LOG_BATCH_SECONDS``); 0 writes each line at once."""
    stderr_lines.flush()
    stderr_lines.delay = delay
