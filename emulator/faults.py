"""Fault injection for REST calls: latency, 429 with Retry-After, and 503, driven by a seeded generator.

Only REST routes consult it, so host pages, install keys and control endpoints keep working while a client's
retry logic is being tested.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from emulator.errors import ApiError


@dataclass
class FaultSettings:
    """Rates are probabilities in [0, 1]; 1.0 makes every REST call fail."""

    rate_429: float = 0.0
    retry_after: int = 1
    rate_5xx: float = 0.0
    latency_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        """The settings in the camelCase shape ``/_emulator/faults`` speaks."""
        return {
            "fault429Rate": self.rate_429,
            "retryAfter": self.retry_after,
            "fault5xxRate": self.rate_5xx,
            "latencyMs": self.latency_ms,
        }


_JSON_NAMES = {
    "fault429Rate": "rate_429",
    "retryAfter": "retry_after",
    "fault5xxRate": "rate_5xx",
    "latencyMs": "latency_ms",
}


def parse_settings(data: dict[str, Any], base: FaultSettings) -> FaultSettings:
    """Merge camelCase (or snake_case) JSON into ``base``; raise ``ValueError`` on bad names or values."""
    merged = asdict(base)
    known = {f.name for f in fields(FaultSettings)}
    for name, value in data.items():
        attr = _JSON_NAMES.get(name, name)
        if attr not in known:
            raise ValueError(f"unknown fault setting {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        merged[attr] = value
    settings = FaultSettings(
        rate_429=float(merged["rate_429"]),
        retry_after=int(merged["retry_after"]),
        rate_5xx=float(merged["rate_5xx"]),
        latency_ms=int(merged["latency_ms"]),
    )
    for rate in (settings.rate_429, settings.rate_5xx):
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rates must be between 0 and 1")
    if settings.retry_after < 0 or settings.latency_ms < 0 or settings.latency_ms > 60_000:
        raise ValueError("retryAfter must be >= 0 and latencyMs within 0..60000")
    return settings


class Faults:
    """The current settings and a seeded generator, so a run with the same seed fails the same calls."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self._lock = threading.Lock()
        self._settings = settings
        self._seed = seed
        self._rng = random.Random(seed)

    @property
    def settings(self) -> FaultSettings:
        """The settings now in force."""
        return self._settings

    def update(self, settings: FaultSettings) -> None:
        """Replace the settings and restart the generator, so each configuration is repeatable."""
        with self._lock:
            self._settings = settings
            self._rng = random.Random(self._seed)

    def apply(self) -> None:
        """Sleep for the configured latency, then maybe raise a 429 or 503 :class:`ApiError`."""
        with self._lock:
            settings = self._settings
            roll_429 = self._rng.random()
            roll_5xx = self._rng.random()
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        retry = {"Retry-After": str(settings.retry_after)}
        if roll_429 < settings.rate_429:
            raise ApiError(
                429,
                "TOO_MANY_REQUESTS",
                "Too Many Requests",
                "Rate limit exceeded (injected by the emulator)",
                {
                    **retry,
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "RateLimit-Reason": "confluence-quota-tenant-based",
                },
            )
        if roll_5xx < settings.rate_5xx:
            raise ApiError(
                503,
                "SERVICE_UNAVAILABLE",
                "Service Unavailable",
                "Temporary failure (injected by the emulator)",
                retry,
            )
