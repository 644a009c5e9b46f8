"""One thread that calls a flush a short delay after it is poked: what the web process's batches share.

The log lines (``stderr_batches``) and the request counts (``request_counts``) are queued on a
request's path and written a moment later by a thread of their own. :class:`FlushSoon` is that thread:

* :meth:`FlushSoon.poke` after queueing: cheap once poked (one ``Event.is_set``); the thread starts
  with the first poke, in the process that queues, so an idle process has no thread waking up;
* the thread waits for a poke, sleeps the delay (the batch fills), clears the poke, then flushes: a
  poke from then on starts the next round, so nothing queued is left waiting;
* the flush also runs when the process ends: by ``atexit`` (:func:`track` registers it) and, in a
  ``multiprocessing`` child such as a granian worker, which ends without running ``atexit``, by a
  ``multiprocessing`` finalizer registered here, in the process that queues (a forked child clears the
  finalizers it inherits).
"""

from __future__ import annotations

import atexit
import multiprocessing.util
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar


class FlushSoon:
    """Calls ``flush()`` from a thread named ``name``, ``delay()`` seconds after a :meth:`poke`."""

    def __init__(self, flush: Callable[[], None], delay: Callable[[], float], name: str) -> None:
        self._flush = flush
        self._delay = delay
        self._name = name
        self._poked = threading.Event()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Have the thread flush within the delay (starting it on the first poke)."""
        if not self._poked.is_set():
            if self._thread is None:
                self._start()
            self._poked.set()

    def _start(self) -> None:
        with self._starting:
            if self._thread is None:
                multiprocessing.util.Finalize(self, self._flush, exitpriority=100)
                thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        poked = self._poked
        while True:
            poked.wait()
            time.sleep(self._delay())  # let the batch fill
            poked.clear()  # before the flush: a poke from here on starts the next round
            self._flush()


class Batches(Protocol):
    """What :func:`track` needs of a batch owner."""

    def flush(self) -> None: ...

    def after_fork_in_child(self) -> None: ...


B = TypeVar("B", bound=Batches)


def track(batches: B) -> B:
    """Flush ``batches`` at exit, and give a forked child none of the parent's (``after_fork_in_child``)."""
    atexit.register(batches.flush)
    os.register_at_fork(after_in_child=batches.after_fork_in_child)
    return batches
