"""Running one function in several threads at once, for tests of what threads share."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_threads(target: Callable[[int], None], count: int) -> None:
    """Run ``target(n)`` for n in 0..count-1, each in its own thread, and wait for all of them."""
    workers = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
