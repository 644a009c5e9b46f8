"""Get the report for a scope: from the cache, or by scanning now, refreshing stale entries once.

No Flask here: the caller passes a session factory, a clock, the scan to run, and a ``spawn``
function that runs a refresh in the background (a thread pool in the app, inline in some tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.errors import AppError
from app.reports.cache import CachedReport, ReportCache
from app.reports.model import FreshnessReport, ReportScope

log = logging.getLogger(__name__)

Scan = Callable[[ReportScope, datetime], FreshnessReport]
Spawn = Callable[[Callable[[], None]], None]


class ReportService:
    """Stale-while-revalidate over :class:`ReportCache`."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        clock: Callable[[], datetime],
        spawn: Spawn,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._spawn = spawn

    def get(self, client_key: str, scope: ReportScope, *, ttl: timedelta, scan: Scan) -> CachedReport:
        """Return the report for ``scope``: cached if fresh, stale while one refresh runs, else scanned."""
        now = self._clock()
        with self._session_factory() as session:
            cache = ReportCache(session)
            cached = cache.get(client_key, scope.cache_key)
            if cached is not None:
                report, expires_at = cached
                if now < expires_at:
                    return CachedReport(report, expires_at, stale=False)
                if cache.take_lease(client_key, scope.cache_key, now=now):
                    self._spawn(lambda: self._refresh(client_key, scope, ttl, scan))
                return CachedReport(report, expires_at, stale=True)
            report = scan(scope, now)
            expires_at = cache.put(client_key, report, now=now, ttl=ttl)
            return CachedReport(report, expires_at, stale=False)

    def _refresh(self, client_key: str, scope: ReportScope, ttl: timedelta, scan: Scan) -> None:
        """Run in the background: rescan and store, or keep the stale entry and back off on failure."""
        now = self._clock()
        with self._session_factory() as session:
            cache = ReportCache(session)
            try:
                report = scan(scope, now)
            except Exception as exc:  # a background job: log it, keep the stale report, back off
                # Confluence faults (AppError) need no trace; anything else is a bug and gets one.
                reason = exc.message if isinstance(exc, AppError) else type(exc).__name__
                log.warning(
                    "refresh of %s for %s failed: %s",
                    scope.cache_key,
                    client_key,
                    reason,
                    exc_info=not isinstance(exc, AppError),
                )
                cache.release_after_failure(client_key, scope.cache_key, now=self._clock())
                return
            cache.put(client_key, report, now=now, ttl=ttl)
