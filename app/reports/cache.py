"""The report cache, in the database so every app process shares it (architecture.md, "Decisions").

Stale-while-revalidate: a fresh entry is served as is; an expired one is served while exactly one
process refreshes it. That process is the one whose conditional UPDATE takes the refresh lease
(``refreshing_until``), which is atomic on SQLite and PostgreSQL alike. Time is a parameter.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from app.reports.model import FreshnessReport

#: How long a refresher may hold the lease before another process may take over.
LEASE: Final = timedelta(minutes=5)
#: After a failed refresh, wait this long before trying again (stale data keeps being served).
RETRY_AFTER_FAILURE: Final = timedelta(minutes=1)


class ReportCacheEntry(Base):
    """A computed report for one tenant and scope."""

    __tablename__ = "report_cache"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    scope_key: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    payload: Mapped[str] = mapped_column(sa.Text)
    computed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    refreshing_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


@dataclass(frozen=True)
class CachedReport:
    """A report and how it was obtained."""

    report: FreshnessReport
    expires_at: datetime
    #: True when the entry had expired and a refresh was started or is under way.
    stale: bool


class _DecodedReports:
    """Reports already decoded by this process, keyed by the row's version (``computed_at``).

    Decoding a stored report (JSON and up to 500 dates) was most of a cached render's cost. The key
    includes ``computed_at``, so a row that another process refreshed is a new key: nothing here can
    go stale (architecture.md: in-process caches must stay correct when another process writes).
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._reports: OrderedDict[tuple[str, str, datetime], FreshnessReport] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, datetime]) -> FreshnessReport | None:
        with self._lock:
            report = self._reports.get(key)
            if report is not None:
                self._reports.move_to_end(key)
            return report

    def put(self, key: tuple[str, str, datetime], report: FreshnessReport) -> None:
        with self._lock:
            self._reports[key] = report
            while len(self._reports) > self._size:
                self._reports.popitem(last=False)


_decoded = _DecodedReports()


class ReportCache:
    """Reads and writes cache entries through one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, client_key: str, scope_key: str) -> tuple[FreshnessReport, datetime] | None:
        """Return the cached report and its expiry, or None; reads the payload only if not decoded yet."""
        where = (ReportCacheEntry.client_key == client_key, ReportCacheEntry.scope_key == scope_key)
        row = self._session.execute(
            sa.select(ReportCacheEntry.computed_at, ReportCacheEntry.expires_at).where(*where)
        ).first()
        if row is None:
            return None
        key = (client_key, scope_key, _utc(row.computed_at))
        report = _decoded.get(key)
        if report is None:
            payload = self._session.scalar(sa.select(ReportCacheEntry.payload).where(*where))
            if payload is None:  # deleted between the two reads
                return None
            report = FreshnessReport.from_json(json.loads(payload))
            if _utc(report.computed_at) == key[2]:  # not replaced between the two reads
                _decoded.put(key, report)
        return report, _utc(row.expires_at)

    def put(self, client_key: str, report: FreshnessReport, *, now: datetime, ttl: timedelta) -> datetime:
        """Store ``report`` (insert or replace), clear any lease, and return its expiry."""
        expires = now + ttl
        values = {
            "payload": json.dumps(report.to_json()),
            "computed_at": report.computed_at,
            "expires_at": expires,
            "refreshing_until": None,
        }
        key = (client_key, report.scope.cache_key)
        updated = self._session.execute(
            sa.update(ReportCacheEntry)
            .where(ReportCacheEntry.client_key == key[0], ReportCacheEntry.scope_key == key[1])
            .values(**values)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            self._session.add(ReportCacheEntry(client_key=key[0], scope_key=key[1], **values))
            try:
                self._session.commit()
            except IntegrityError:  # another process inserted it first: ours is as new, overwrite
                self._session.rollback()
                self._session.execute(
                    sa.update(ReportCacheEntry)
                    .where(ReportCacheEntry.client_key == key[0], ReportCacheEntry.scope_key == key[1])
                    .values(**values)
                )
        self._session.commit()
        return expires

    def take_lease(self, client_key: str, scope_key: str, *, now: datetime, lease: timedelta = LEASE) -> bool:
        """Try to become the one refresher of an expired entry; True if this caller won."""
        result = self._session.execute(
            sa.update(ReportCacheEntry)
            .where(
                ReportCacheEntry.client_key == client_key,
                ReportCacheEntry.scope_key == scope_key,
                ReportCacheEntry.expires_at <= now,
                sa.or_(ReportCacheEntry.refreshing_until.is_(None), ReportCacheEntry.refreshing_until <= now),
            )
            .values(refreshing_until=now + lease)
        )
        self._session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def release_after_failure(self, client_key: str, scope_key: str, *, now: datetime) -> None:
        """Keep the stale entry, and let the next refresh start only after a pause."""
        self._session.execute(
            sa.update(ReportCacheEntry)
            .where(ReportCacheEntry.client_key == client_key, ReportCacheEntry.scope_key == scope_key)
            .values(refreshing_until=now + RETRY_AFTER_FAILURE)
        )
        self._session.commit()

    def invalidate_tenant(self, client_key: str) -> None:
        """Forget every cached report of a tenant (its settings changed)."""
        self._session.execute(sa.delete(ReportCacheEntry).where(ReportCacheEntry.client_key == client_key))
        self._session.commit()


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone-aware columns; we only ever store UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
