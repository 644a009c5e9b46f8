"""Installation health: the last successful Confluence call and recent rate-limit hits, per tenant.

A scan reports many HTTP attempts; they are gathered in memory and written once when it ends,
so health costs one row update per scan, not one per request.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, insert_ignoring_conflicts
from app.local_copies import copies, read_through
from app.tenants.models import utcnow

#: Rate-limit hits older than this are forgotten.
RECENT: Final = timedelta(days=7)
MAX_REMEMBERED_HITS: Final = 200


class CallOutcome(Protocol):
    """What the recorder reads of one call to Confluence (``app.confluence.events.ClientEvent`` fits).

    A protocol, so this lower layer does not import the REST client that reports to it.
    """

    @property
    def ok(self) -> bool: ...
    @property
    def status(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def rate_limited(self) -> bool: ...


class TenantHealth(Base):
    """What we know of a tenant's Confluence from our own calls."""

    __tablename__ = "tenant_health"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_failure: Mapped[str | None] = mapped_column(sa.String(255))
    rate_limit_hits: Mapped[str] = mapped_column(sa.Text, default="[]")

    def recent_rate_limit_hits(self, now: datetime) -> list[datetime]:
        """Rate-limit hits within the last week, oldest first."""
        return _summary_of(self).recent_rate_limit_hits(now)


@dataclass(frozen=True)
class HealthSummary:
    """A tenant's health row as pages show it (all empty before any call was recorded)."""

    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure: str | None = None
    rate_limit_hits: tuple[datetime, ...] = ()

    def recent_rate_limit_hits(self, now: datetime) -> list[datetime]:
        """Rate-limit hits within the last week, oldest first."""
        return [hit for hit in self.rate_limit_hits if now - hit <= RECENT]


#: The name of this process's copies of health rows (``app/local_copies.py``).
_HEALTH: Final = "tenant_health"


def load_health(session: Session, client_key: str, *, recent_ok: bool = False) -> HealthSummary:
    """The tenant's health; with ``recent_ok``, this process's copy up to ``APP_HOT_CACHE_SECONDS`` old."""
    return read_through(
        session, _HEALTH, client_key, lambda: _read_health(session, client_key), recent_ok=recent_ok
    )


def _read_health(session: Session, client_key: str) -> HealthSummary:
    row = session.get(TenantHealth, client_key)
    return HealthSummary() if row is None else _summary_of(row)


def _summary_of(row: TenantHealth) -> HealthSummary:
    return HealthSummary(
        row.last_success_at,
        row.last_failure_at,
        row.last_failure,
        tuple(datetime.fromisoformat(stamp) for stamp in json.loads(row.rate_limit_hits or "[]")),
    )


class HealthRecorder:
    """Collects client events (thread-safe) and writes a summary with :meth:`flush`."""

    def __init__(self, client_key: str) -> None:
        self.client_key = client_key
        self._lock = threading.Lock()
        self._last_success: datetime | None = None
        self._last_failure: tuple[datetime, str] | None = None
        self._rate_limited: list[datetime] = []

    def __call__(self, event: CallOutcome) -> None:
        now = utcnow()
        with self._lock:
            if event.ok:
                self._last_success = now
            else:
                reason = f"HTTP {event.status}" if event.status is not None else (event.error or "no answer")
                self._last_failure = (now, reason[:255])
            if event.rate_limited:
                self._rate_limited.append(now)

    def flush(self, session: Session) -> None:
        """Merge what was seen into the tenant's health row and commit; a no-op if nothing was seen."""
        with self._lock:
            success, failure, hits = self._last_success, self._last_failure, list(self._rate_limited)
            self._last_success, self._last_failure, self._rate_limited = None, None, []
        if success is None and failure is None and not hits:
            return
        # Make sure the row exists without a read-then-insert race (two scans ending at once used to
        # collide on the primary key), then lock it: the merge below reads and writes one row.
        insert_ignoring_conflicts(
            session, TenantHealth, {"client_key": self.client_key, "rate_limit_hits": "[]"}
        )
        row = session.execute(
            sa.select(TenantHealth)
            .where(TenantHealth.client_key == self.client_key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if success is not None:
            row.last_success_at = success
        if failure is not None:
            row.last_failure_at, row.last_failure = failure
        if hits:
            now = utcnow()
            kept = row.recent_rate_limit_hits(now) + hits
            row.rate_limit_hits = json.dumps([hit.isoformat() for hit in kept[-MAX_REMEMBERED_HITS:]])
        session.commit()
        copies(session, _HEALTH).discard([self.client_key])
