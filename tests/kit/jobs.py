"""Run an app's jobs in a background thread, as ``flask worker`` does, for tests with a live app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from app.jobs.queue import get_queue, run_pending

#: Seconds between two looks at an empty queue.
POLL_SECONDS = 0.05


@contextmanager
def running_worker(app: Flask) -> Iterator[threading.Event]:
    """Run due jobs until the block ends; yields the stop event (bounded: stops within one poll)."""
    stop = threading.Event()
    queue = get_queue(app)

    def loop() -> None:
        while not stop.is_set():
            if run_pending(queue, limit=50) == 0:
                stop.wait(POLL_SECONDS)

    thread = threading.Thread(target=loop, name="test-worker", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
