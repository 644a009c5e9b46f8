"""Counts of REST calls per route template and status, so tests can assert how many calls a client made."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Thread-safe counters; ``snapshot`` returns plain JSON-able data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._total = 0

    def record(self, route: str, status: int) -> None:
        """Count one REST call (``route`` is ``METHOD /template``)."""
        with self._lock:
            self._total += 1
            self._routes[route] += 1
            self._statuses[str(status)] += 1

    def reset(self) -> None:
        """Forget every count (tests call this between phases)."""
        with self._lock:
            self._routes.clear()
            self._statuses.clear()
            self._total = 0

    def snapshot(self) -> dict[str, object]:
        """``{"total": n, "routes": {"GET /wiki/api/v2/pages": n}, "statuses": {"200": n}}``."""
        with self._lock:
            return {"total": self._total, "routes": dict(self._routes), "statuses": dict(self._statuses)}
