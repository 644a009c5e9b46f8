"""The report cache, in the database so every app process shares it (docs/architecture.md).

A fresh entry is served as is; an expired one is still served while a scan job refreshes it (the
job, not this module, makes sure only one scan runs). ``last_viewed_at`` tells the periodic warmer
which reports people still read: those are refreshed before they expire, the others are dropped.
Time is a parameter.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, as_utc
from app.expiring import ExpiringCache
from app.local_copies import copies, read_through
from app.reports.model import FreshnessReport


class ReportCacheEntry(Base):
    """A computed report for one tenant and scope."""

    __tablename__ = "report_cache"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    scope_key: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    payload: Mapped[str] = mapped_column(sa.Text)
    computed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_viewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


#: A view updates ``last_viewed_at`` only when it is older than this, so a busy macro is not a write
#: per render.
VIEW_RESOLUTION: Final = timedelta(hours=1)


@dataclass(frozen=True)
class CachedReport:
    """A report and how it was obtained."""

    report: FreshnessReport
    expires_at: datetime
    last_viewed_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


#: Reports already decoded by this process, keyed by the row's version (``computed_at``), least
#: recently used dropped first. Decoding a stored report (JSON and up to 500 dates) was most of a cached
#: render's cost. The key includes ``computed_at``, so a row that another process refreshed is a new
#: key: nothing here can go stale, and nothing expires (docs/architecture.md: in-process caches must
#: stay correct when another process writes).
_decoded: ExpiringCache[tuple[str, str, datetime], FreshnessReport] = ExpiringCache(math.inf, 256)

#: The name of this process's copies of report versions (``app/local_copies.py``).
_HEADS: Final = "report_heads"


@dataclass(frozen=True)
class _Head:
    """A report row's version, without its payload."""

    computed_at: datetime
    expires_at: datetime
    last_viewed_at: datetime | None


def _where(client_key: str, scope_key: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (ReportCacheEntry.client_key == client_key, ReportCacheEntry.scope_key == scope_key)


def needs_touch(cached: CachedReport, now: datetime) -> bool:
    """Whether a view of ``cached`` now is to be written down (:meth:`ReportCache.touch`)."""
    return cached.last_viewed_at is None or now - cached.last_viewed_at >= VIEW_RESOLUTION


class ReportCache:
    """Reads and writes cache entries through one session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, client_key: str, scope_key: str, *, recent_ok: bool = False) -> CachedReport | None:
        """Return the cached report, or None; reads the payload only if not decoded yet.

        :param recent_ok: the row's version (``computed_at``, expiry, last view) may come from this
            process's copy, up to ``APP_HOT_CACHE_SECONDS`` old (``app/local_copies.py``); the hot
            path's choice. Otherwise it is read from the database.
        """
        key = (client_key, scope_key)
        head = read_through(
            self._session, _HEADS, key, lambda: self._read_head(client_key, scope_key), recent_ok=recent_ok
        )
        if head is None:
            return None
        heads = copies(self._session, _HEADS)
        decoded_key = (client_key, scope_key, head.computed_at)
        report = _decoded.get(decoded_key)
        if report is None:
            payload = self._session.scalar(
                sa.select(ReportCacheEntry.payload).where(*_where(client_key, scope_key))
            )
            if payload is None:  # deleted between the two reads
                heads.discard([key])
                return None
            report = FreshnessReport.from_json(json.loads(payload))
            if as_utc(report.computed_at) == head.computed_at:
                _decoded.put(decoded_key, report)
            else:  # replaced between the two reads: serve it, keep neither
                heads.discard([key])
        return CachedReport(report, head.expires_at, head.last_viewed_at)

    def _read_head(self, client_key: str, scope_key: str) -> _Head | None:
        row = self._session.execute(
            sa.select(
                ReportCacheEntry.computed_at, ReportCacheEntry.expires_at, ReportCacheEntry.last_viewed_at
            ).where(*_where(client_key, scope_key))
        ).first()
        if row is None:
            return None
        viewed = as_utc(row.last_viewed_at) if row.last_viewed_at is not None else None
        return _Head(as_utc(row.computed_at), as_utc(row.expires_at), viewed)

    def forget(self, client_key: str, scope_key: str | None = None) -> None:
        """Drop this process's copies of a tenant's report versions (one scope, or all): they changed."""
        heads = copies(self._session, _HEADS)
        if scope_key is not None:
            heads.discard([(client_key, scope_key)])
        else:
            heads.discard_where(lambda key: isinstance(key, tuple) and key[0] == client_key)

    def touch(self, client_key: str, cached: CachedReport, *, now: datetime) -> None:
        """Note that the report was viewed (at most one write per :data:`VIEW_RESOLUTION`)."""
        if not needs_touch(cached, now):
            return
        self._session.execute(
            sa.update(ReportCacheEntry)
            .where(
                ReportCacheEntry.client_key == client_key,
                ReportCacheEntry.scope_key == cached.report.scope.cache_key,
            )
            .values(last_viewed_at=now)
        )
        self._session.commit()
        self.forget(client_key, cached.report.scope.cache_key)

    def put(self, client_key: str, report: FreshnessReport, *, now: datetime, ttl: timedelta) -> datetime:
        """Store ``report`` (insert or replace) and commit; return its expiry."""
        expires = now + ttl
        values = {
            "payload": json.dumps(report.to_json()),
            "computed_at": report.computed_at,
            "expires_at": expires,
        }
        key = (client_key, report.scope.cache_key)
        updated = self._session.execute(
            sa.update(ReportCacheEntry)
            .where(ReportCacheEntry.client_key == key[0], ReportCacheEntry.scope_key == key[1])
            .values(**values)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            self._session.add(
                ReportCacheEntry(client_key=key[0], scope_key=key[1], last_viewed_at=now, **values)
            )
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
        self.forget(*key)
        return expires

    def due_for_warming(
        self, now: datetime, *, viewed_since: datetime, ahead: timedelta
    ) -> list[tuple[str, CachedReport]]:
        """Reports viewed since ``viewed_since`` that expire within ``ahead`` (or already have)."""
        rows = self._session.execute(
            sa.select(ReportCacheEntry.client_key, ReportCacheEntry.scope_key).where(
                ReportCacheEntry.expires_at <= now + ahead,
                sa.func.coalesce(ReportCacheEntry.last_viewed_at, ReportCacheEntry.computed_at)
                >= viewed_since,
            )
        ).all()
        found = [(row.client_key, self.get(row.client_key, row.scope_key)) for row in rows]
        return [(client_key, entry) for client_key, entry in found if entry is not None]

    def drop_unviewed(self, viewed_before: datetime) -> list[tuple[str, str]]:
        """Delete reports nobody viewed since ``viewed_before``; return their (client_key, scope_key)."""
        unviewed = (
            sa.func.coalesce(ReportCacheEntry.last_viewed_at, ReportCacheEntry.computed_at) < viewed_before
        )
        rows = self._session.execute(
            sa.select(ReportCacheEntry.client_key, ReportCacheEntry.scope_key).where(unviewed)
        ).all()
        self._session.execute(sa.delete(ReportCacheEntry).where(unviewed))
        self._session.commit()
        for row in rows:
            self.forget(row.client_key, row.scope_key)
        return [(row.client_key, row.scope_key) for row in rows]

    def invalidate_tenant(self, client_key: str) -> None:
        """Forget every cached report of a tenant (its settings changed)."""
        self._session.execute(sa.delete(ReportCacheEntry).where(ReportCacheEntry.client_key == client_key))
        self._session.commit()
        self.forget(client_key)
