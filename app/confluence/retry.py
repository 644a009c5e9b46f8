"""The retry policy for calls to Confluence: which answers are retried, and how long to wait.

Pure functions and a frozen policy; the loop that applies them is in ``transport.py``. Atlassian's guidance
(https://developer.atlassian.com/cloud/confluence/rate-limiting/): honour ``Retry-After`` as a minimum on
429 and 503, otherwise back off exponentially with jitter and a cap, and only retry idempotent requests.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final

#: Methods whose repetition cannot change the outcome (RFC 9110 §9.2.2), the only ones retried.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Statuses that ask the client to come back after ``Retry-After``.
RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
#: Server faults worth a second try (a 501 or 505 will not get better).
TRANSIENT_STATUSES: Final = frozenset({500, 502, 503, 504})

_DELTA_SECONDS: Final = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one logical request.

    :param max_attempts: attempts in all, the first one included.
    :param max_total_seconds: no retry is started if its wait would end later than this after the first send.
    :param max_retry_after: the longest ``Retry-After`` we are willing to honour; a longer one ends the
        request with ``ConfluenceRateLimitedError`` instead of an early retry.
    :param backoff_base: the first backoff step, in seconds, doubled per retry up to ``backoff_cap``.
    """

    max_attempts: int = 5
    max_total_seconds: float = 60.0
    max_retry_after: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_total_seconds < 0 or self.max_retry_after < 0:
            raise ValueError("time bounds must not be negative")

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """Return the wait before retry ``retry_number`` (1-based): "equal jitter" exponential backoff.

        Half the capped step is fixed and half is random, so concurrent clients spread out but every
        retry still waits a little.
        """
        exponent = min(max(0, retry_number - 1), 62)  # bounded: 2.0 ** 1024 would overflow
        step = min(self.backoff_cap, self.backoff_base * 2.0**exponent)
        return step / 2 + rand() * step / 2


def is_idempotent(method: str) -> bool:
    """Return whether ``method`` may be sent again after a failure without changing the outcome."""
    return method.upper() in IDEMPOTENT_METHODS


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the seconds a ``Retry-After`` header asks us to wait, or ``None`` if absent or unreadable.

    Accepts delta-seconds (decimals too, which some test servers send) and an HTTP-date, which is
    turned into seconds from ``now`` (epoch seconds); a date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)  # a very long value becomes inf, which no clamp will honour
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may parse as naive
        return None
    return max(0.0, when.timestamp() - now)
