"""The app's one clock: ``app.config["CLOCK"]`` (epoch seconds; ``time.time`` unless a test sets another).

Tokens, caches, leases and jobs all read time through here, so a test that moves the clock moves it
for every part at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask

from app.contexts import active_app


def _clock(app: Flask | None) -> Callable[[], float]:
    clock: Callable[[], float] = (app or active_app()).config["CLOCK"]
    return clock


def utc_now(app: Flask | None = None) -> datetime:
    """Now, as an aware UTC datetime, by ``app``'s clock (the current app's if None)."""
    return datetime.fromtimestamp(_clock(app)(), UTC)


def now_seconds(app: Flask | None = None) -> int:
    """Now, in whole epoch seconds (what JWT ``iat``/``exp`` use)."""
    return int(_clock(app)())


def utc_clock(app: Flask) -> Callable[[], datetime]:
    """A function returning ``utc_now(app)``, for code that takes a clock and runs outside requests."""
    return lambda: utc_now(app)
