"""Running threads that take turns as often as CPython lets them: for tests of code that takes no lock."""

from __future__ import annotations

import sys
import threading


def run_interleaved(threads: list[threading.Thread]) -> None:
    """Start ``threads`` and wait for them, with the interpreter switching threads every microsecond
    (instead of every 5 ms), so that a race has many chances to show; the interval is restored after."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
