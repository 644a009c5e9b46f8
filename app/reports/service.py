"""What a web request gets for a scope: the cached report, and the scan job that is (re)making it.

A web request never scans. It reads the cache; when the report is missing or expired it asks for a
scan job (idempotent: concurrent viewers share one) and sends the queue message only if it was the
one that queued the job. No Flask here: the caller passes the session, a clock and ``send``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.observability import metrics
from app.observability.logs import tenant_tag
from app.reports.cache import CachedReport, ReportCache, needs_touch
from app.reports.jobs import JobView, ScanJobs
from app.reports.model import FreshnessReport, ReportScope

log = logging.getLogger(__name__)

Send = Callable[[str, str], None]


@dataclass(frozen=True)
class ReportView:
    """The report to show (None before the first scan ends) and the scan job, if one was looked at."""

    cached: CachedReport | None
    job: JobView | None

    @property
    def report(self) -> FreshnessReport | None:
        return self.cached.report if self.cached is not None else None

    @property
    def refreshing(self) -> bool:
        """A report is shown while a newer one is being made."""
        return self.cached is not None and self.job is not None and self.job.in_progress


class ReportService:
    """Serves reports from the cache and queues scans for what is missing or expired."""

    def __init__(self, *, clock: Callable[[], datetime], send: Send) -> None:
        self._clock = clock
        self._send = send

    def view(self, session: Session, client_key: str, scope: ReportScope) -> ReportView:
        """The report for ``scope`` as it is now; queues a scan if it is missing or expired."""
        now = self._clock()
        cache = ReportCache(session)
        # The hot path: a version this process read up to APP_HOT_CACHE_SECONDS ago will do, unless it
        # says the report has expired; then the database decides, so that a report another process
        # has just refreshed never queues a needless scan.
        cached = cache.get(client_key, scope.cache_key, recent_ok=True)
        if cached is not None and cached.expired(now):
            cached = cache.get(client_key, scope.cache_key)
        if cached is not None:
            cache.touch(client_key, cached, now=now)
            if not cached.expired(now):
                metrics.cache_lookup("hit")
                return ReportView(cached, None)
        metrics.cache_lookup("miss" if cached is None else "stale")
        total_hint = cached.report.scanned if cached is not None else None
        queued, job = ScanJobs(session).request(client_key, scope, now=now, total_hint=total_hint)
        if queued:
            metrics.scan_queued("view")
            try:
                self._send(client_key, scope.cache_key)
            except Exception:  # the queue is down: the job stays queued and the sweep sends it again
                log.exception("could not send scan job %s for %s", scope.cache_key, tenant_tag(client_key))
        return ReportView(cached, job)

    def fresh_view(self, session: Session, client_key: str, scope: ReportScope) -> ReportView | None:
        """What :meth:`view` returns when that has no effect but a cache-hit count (the report is
        fresh and its view already noted), or None, having done nothing (the hot path's question)."""
        now = self._clock()
        cached = ReportCache(session).get(client_key, scope.cache_key, recent_ok=True)
        if cached is None or cached.expired(now) or needs_touch(cached, now):
            return None
        metrics.cache_lookup("hit")
        return ReportView(cached, None)

    def request_scan(self, session: Session, client_key: str, scope: ReportScope) -> bool:
        """Ask for a scan of ``scope`` now (a webhook could not be applied); True if this call queued it."""
        cached = ReportCache(session).get(client_key, scope.cache_key)
        total = cached.report.scanned if cached is not None else None
        queued, _ = ScanJobs(session).request(client_key, scope, now=self._clock(), total_hint=total)
        if queued:
            self._send(client_key, scope.cache_key)
        return queued

    def cached(self, session: Session, client_key: str, scope: ReportScope) -> CachedReport | None:
        """The cached report, fresh or not, without asking for a scan ("Show more")."""
        return ReportCache(session).get(client_key, scope.cache_key)
