"""Scan jobs in the database: one row per (tenant, scope), the single source of truth for a scan.

The job queue (Huey) only carries "look at job (tenant, scope) now" messages; what a scan is doing,
where it stopped and who runs it lives here, so any number of web and worker processes agree:

* a web request asks for a scan with :meth:`ScanJobs.request`; only the request whose INSERT or
  conditional UPDATE wins sends a queue message, so 20 viewers of an uncached scope make one scan;
* a worker takes the job with :meth:`ScanJobs.claim`, a conditional UPDATE that also enforces the
  tenant's pause (after a 429) and its limit of concurrent scans; the claim is a lease that every
  checkpoint renews, so a killed worker's job is taken over from its checkpoint once the lease ends;
* every write a worker makes names its ``owner`` token, so a worker that lost its lease stops
  instead of overwriting its successor.

Every state change is one statement (or a tenant-row lock on PostgreSQL), so it is atomic on SQLite
and PostgreSQL alike. Time is a parameter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from app.db import Base, as_utc, insert_ignoring_conflicts
from app.reports.model import ReportScope
from app.tenants.models import Tenant

JobState = Literal["queued", "running", "done", "failed"]

#: After a scan failed for good, a view asks for a new one only after this long.
RETRY_FAILED_AFTER: Final = timedelta(minutes=1)
#: A queued job whose message has not been picked up for this long is sent again.
LOST_AFTER: Final = timedelta(minutes=5)
#: The longest message kept for viewers.
MESSAGE_LENGTH: Final = 255


class ScanJob(Base):
    """The latest scan of one tenant's scope, and its checkpoint while it runs."""

    __tablename__ = "scan_job"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    scope_key: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    scope: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16))
    #: Not to be started before this (a tenant pause, a back-off after a fault).
    run_after: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    requested_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Faults in a row (429s excluded); reset by a page read successfully.
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    items_read: Mapped[int] = mapped_column(sa.Integer, default=0)
    pages_read: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: How many items the scope had last time (the progress bar's 100 %), if known.
    total_hint: Mapped[int | None] = mapped_column(sa.Integer)
    checkpoint: Mapped[str | None] = mapped_column(sa.Text)
    #: What viewers are told: why the scan waits, or why it failed. Never a secret or a URL.
    message: Mapped[str | None] = mapped_column(sa.String(MESSAGE_LENGTH))
    #: How many times a scan was resumed from a checkpoint (by another worker or after a pause).
    resumes: Mapped[int] = mapped_column(sa.Integer, default=0)


class TenantThrottle(Base):
    """A tenant whose Confluence asked us to wait: none of its scans starts before ``paused_until``."""

    __tablename__ = "tenant_throttle"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    paused_until: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


@dataclass(frozen=True)
class JobView:
    """What a viewer may know about a scan."""

    state: JobState
    items_read: int
    total_hint: int | None
    message: str | None
    requested_at: datetime
    finished_at: datetime | None

    @property
    def in_progress(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def percent(self) -> int | None:
        """Progress in whole percent (never 100 before the end), or None without a known total."""
        if not self.total_hint:
            return None
        return min(99, int(100 * self.items_read / self.total_hint))


@dataclass(frozen=True)
class Claim:
    """The outcome of a worker's attempt to take a job."""

    won: bool
    #: When not won: None to drop the message, else seconds until it should be looked at again.
    retry_in: float | None = None
    job: ScanJob | None = None


def _view(job: ScanJob) -> JobView:
    return JobView(
        state=job.state,  # type: ignore[arg-type]
        items_read=job.items_read,
        total_hint=job.total_hint,
        message=job.message,
        requested_at=as_utc(job.requested_at),
        finished_at=as_utc(job.finished_at) if job.finished_at is not None else None,
    )


def scope_json(scope: ReportScope) -> str:
    return json.dumps(asdict(scope), sort_keys=True)


def scope_of(job: ScanJob) -> ReportScope:
    data: dict[str, Any] = json.loads(job.scope)
    return ReportScope(**data)


def _failed(now: datetime, message: str) -> dict[str, Any]:
    """The columns of a job that ended for good."""
    return {
        "state": "failed",
        "finished_at": now,
        "checkpoint": None,
        "owner": None,
        "lease_until": None,
        "message": message[:MESSAGE_LENGTH],
    }


class ScanJobs:
    """Reads and writes scan jobs through one session; every method commits what it changes."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _where(self, client_key: str, scope_key: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (ScanJob.client_key == client_key, ScanJob.scope_key == scope_key)

    def get(self, client_key: str, scope_key: str) -> ScanJob | None:
        return self._session.execute(
            sa.select(ScanJob)
            .where(*self._where(client_key, scope_key))
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()

    def view(self, client_key: str, scope_key: str) -> JobView | None:
        job = self.get(client_key, scope_key)
        return _view(job) if job is not None else None

    # -- asking for a scan (web processes, the warmer) --------------------------------------------

    def request(
        self, client_key: str, scope: ReportScope, *, now: datetime, total_hint: int | None
    ) -> tuple[bool, JobView]:
        """Make sure a scan of ``scope`` is queued or running; True if this call queued it.

        Only a True answer should send a queue message: of any number of concurrent callers, one
        wins the INSERT (no job yet) or the conditional UPDATE (the last scan is done, or failed more
        than :data:`RETRY_FAILED_AFTER` ago).
        """
        key = scope.cache_key
        job = self.get(client_key, key)
        if job is None:
            inserted = insert_ignoring_conflicts(
                self._session,
                ScanJob,
                {
                    "client_key": client_key,
                    "scope_key": key,
                    "scope": scope_json(scope),
                    "state": "queued",
                    "run_after": now,
                    "requested_at": now,
                    "attempts": 0,
                    "items_read": 0,
                    "pages_read": 0,
                    "resumes": 0,
                    "total_hint": total_hint,
                },
            )
            self._session.commit()
            job = self.get(client_key, key)
            if job is None:  # deleted in between (tenant purged); nothing to scan
                raise LookupError(f"no scan job for {key}")
            if inserted:
                return True, _view(job)
        if job.state == "done" or (
            job.state == "failed"
            and job.finished_at is not None
            and as_utc(job.finished_at) <= now - RETRY_FAILED_AFTER
        ):
            result = self._session.execute(
                sa.update(ScanJob)
                .where(
                    *self._where(client_key, key),
                    ScanJob.state == job.state,
                    ScanJob.requested_at == job.requested_at,
                )
                .values(
                    state="queued",
                    run_after=now,
                    requested_at=now,
                    started_at=None,
                    finished_at=None,
                    attempts=0,
                    items_read=0,
                    pages_read=0,
                    resumes=0,
                    message=None,
                    checkpoint=None,
                    owner=None,
                    lease_until=None,
                    total_hint=total_hint if total_hint is not None else job.total_hint,
                )
            )
            self._session.commit()
            won = bool(result.rowcount == 1)  # type: ignore[attr-defined]
            job = self.get(client_key, key) or job
            return won, _view(job)
        if self._orphaned(job, now):
            # Its worker died (lease over) or its message was lost: whoever notices first sends it
            # again. The claim, not this, decides who runs it, so a duplicate message is harmless.
            result = self._session.execute(
                sa.update(ScanJob)
                .where(*self._where(client_key, key), ScanJob.requested_at == job.requested_at)
                .values(requested_at=now)
            )
            self._session.commit()
            return bool(result.rowcount == 1), _view(job)  # type: ignore[attr-defined]
        return False, _view(job)

    @staticmethod
    def _orphaned(job: ScanJob, now: datetime) -> bool:
        """Running with its lease over and not sent again since (or sent again long ago), or queued and
        not picked up for :data:`LOST_AFTER`. ``requested_at`` records when it was last sent."""
        sent = as_utc(job.requested_at)
        if job.state == "running":
            lease = as_utc(job.lease_until) if job.lease_until is not None else sent
            return lease <= now and (sent < lease or sent <= now - LOST_AFTER)
        if job.state == "queued":
            return max(as_utc(job.run_after), sent) <= now - LOST_AFTER
        return False

    # -- running a scan (workers) ----------------------------------------------------------------

    def claim(
        self, client_key: str, scope_key: str, *, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> Claim:
        """Take the job if it is due, the tenant is not paused, and fewer than ``limit`` of its scans run."""
        # PostgreSQL: serialise claims per tenant, so two workers cannot both see a free slot.
        # SQLite serialises writers already (the statement below holds the write lock).
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(
                sa.select(Tenant.client_key).where(Tenant.client_key == client_key).with_for_update()
            )
        others = aliased(ScanJob)
        running_elsewhere = (
            sa.select(sa.func.count())
            .select_from(others)
            .where(
                others.client_key == client_key,
                others.scope_key != scope_key,
                others.state == "running",
                others.lease_until > now,
            )
            .scalar_subquery()
        )
        paused = sa.exists().where(TenantThrottle.client_key == client_key, TenantThrottle.paused_until > now)
        result = self._session.execute(
            sa.update(ScanJob)
            .where(
                *self._where(client_key, scope_key),
                sa.or_(
                    ScanJob.state == "queued", sa.and_(ScanJob.state == "running", ScanJob.lease_until <= now)
                ),
                ScanJob.run_after <= now,
                ~paused,
                running_elsewhere < limit,
            )
            .values(
                state="running",
                owner=owner,
                lease_until=now + lease,
                started_at=sa.func.coalesce(ScanJob.started_at, now),
                resumes=sa.case(
                    (ScanJob.checkpoint.is_not(None), ScanJob.resumes + 1), else_=ScanJob.resumes
                ),
            )
            .execution_options(synchronize_session=False)
        )
        self._session.commit()
        job = self.get(client_key, scope_key)
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return Claim(True, job=job)
        if job is None or job.state in ("done", "failed"):
            return Claim(False)  # a duplicate message, or the tenant is gone
        if job.state == "running" and job.lease_until is not None and as_utc(job.lease_until) > now:
            return Claim(False)  # another worker has it
        waits = [(as_utc(job.run_after) - now).total_seconds()]
        pause = self._session.get(TenantThrottle, client_key)
        if pause is not None:
            self._session.refresh(pause)
            waits.append((as_utc(pause.paused_until) - now).total_seconds())
        wait = max(waits)
        return Claim(False, retry_in=wait if wait > 0 else 2.0)  # else: the tenant's scans are all busy

    def progress(
        self,
        client_key: str,
        scope_key: str,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        items_read: int,
        pages_read: int,
        checkpoint: dict[str, Any] | None = None,
    ) -> bool:
        """Record progress (and a checkpoint) and renew the lease; False if the job is no longer ours."""
        values: dict[str, Any] = {
            "items_read": items_read,
            "pages_read": pages_read,
            "lease_until": now + lease,
            "attempts": 0,
            "message": None,
        }
        if checkpoint is not None:
            values["checkpoint"] = json.dumps(checkpoint)
        return self._owned_update(client_key, scope_key, owner, values)

    def finish(self, client_key: str, scope_key: str, *, owner: str, now: datetime) -> bool:
        """Mark the job done (its report is stored by the caller in the same transaction)."""
        return self._owned_update(
            client_key,
            scope_key,
            owner,
            {
                "state": "done",
                "finished_at": now,
                "checkpoint": None,
                "owner": None,
                "lease_until": None,
                "message": None,
            },
            commit=False,
        )

    def postpone(
        self,
        client_key: str,
        scope_key: str,
        *,
        owner: str,
        until: datetime,
        message: str,
        checkpoint: dict[str, Any] | None,
        count_attempt: bool,
    ) -> bool:
        """Give the job back to the queue, to be resumed from ``checkpoint`` no earlier than ``until``."""
        values: dict[str, Any] = {
            "state": "queued",
            "run_after": until,
            "owner": None,
            "lease_until": None,
            "message": message[:MESSAGE_LENGTH],
        }
        if checkpoint is not None:
            values["checkpoint"] = json.dumps(checkpoint)
        if count_attempt:
            values["attempts"] = ScanJob.attempts + 1
        return self._owned_update(client_key, scope_key, owner, values)

    def fail(
        self, client_key: str, scope_key: str, *, owner: str | None, now: datetime, message: str
    ) -> bool:
        """End the job for good; the previous report (if any) stays in the cache."""
        values = _failed(now, message)
        if owner is None:
            result = self._session.execute(
                sa.update(ScanJob).where(*self._where(client_key, scope_key)).values(**values)
            )
            self._session.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]
        return self._owned_update(client_key, scope_key, owner, values)

    def stop_tenant(self, client_key: str, *, now: datetime, message: str) -> int:
        """End every queued or running scan of the tenant (it was uninstalled); how many; commits."""
        result = self._session.execute(
            sa.update(ScanJob)
            .where(ScanJob.client_key == client_key, ScanJob.state.in_(("queued", "running")))
            .values(**_failed(now, message))
        )
        self._session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]

    def pause_tenant(self, client_key: str, until: datetime) -> None:
        """Hold every scan of the tenant until ``until`` (never shortening a longer pause)."""
        insert_ignoring_conflicts(
            self._session, TenantThrottle, {"client_key": client_key, "paused_until": until}
        )
        self._session.execute(
            sa.update(TenantThrottle)
            .where(TenantThrottle.client_key == client_key, TenantThrottle.paused_until < until)
            .values(paused_until=until)
        )
        self._session.commit()

    def _owned_update(
        self, client_key: str, scope_key: str, owner: str, values: dict[str, Any], *, commit: bool = True
    ) -> bool:
        result = self._session.execute(
            sa.update(ScanJob)
            .where(*self._where(client_key, scope_key), ScanJob.owner == owner, ScanJob.state == "running")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if commit:
            self._session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # -- housekeeping (the periodic task) ---------------------------------------------------------

    def orphans(self, now: datetime) -> list[tuple[str, str]]:
        """Jobs whose queue message is gone (see :meth:`_orphaned`): a killed worker's, or a lost one."""
        stale = now - LOST_AFTER
        rows = self._session.execute(
            sa.select(ScanJob.client_key, ScanJob.scope_key).where(
                sa.or_(
                    sa.and_(
                        ScanJob.state == "running",
                        ScanJob.lease_until <= now,
                        sa.or_(ScanJob.requested_at < ScanJob.lease_until, ScanJob.requested_at <= stale),
                    ),
                    sa.and_(
                        ScanJob.state == "queued", ScanJob.run_after <= stale, ScanJob.requested_at <= stale
                    ),
                )
            )
        ).all()
        return [(row.client_key, row.scope_key) for row in rows]

    def mark_sent(self, client_key: str, scope_key: str, now: datetime) -> None:
        """Record that a job's message was sent again, so it is not re-sent on every sweep."""
        self._session.execute(
            sa.update(ScanJob).where(*self._where(client_key, scope_key)).values(requested_at=now)
        )
        self._session.commit()

    def counts(self, client_key: str) -> dict[str, int]:
        """How many of a tenant's scans are in each state."""
        rows = self._session.execute(
            sa.select(ScanJob.state, sa.func.count())
            .where(ScanJob.client_key == client_key)
            .group_by(ScanJob.state)
        ).all()
        counts = {"queued": 0, "running": 0, "done": 0, "failed": 0}
        counts.update({state: int(count) for state, count in rows})
        return counts

    def delete_scopes(self, client_key: str, scope_keys: list[str]) -> None:
        """Forget finished jobs of scopes nobody views any more (running ones finish first)."""
        if not scope_keys:
            return
        self._session.execute(
            sa.delete(ScanJob).where(
                ScanJob.client_key == client_key,
                ScanJob.scope_key.in_(scope_keys),
                ScanJob.state.in_(("done", "failed")),
            )
        )
        self._session.commit()


def job_figures(engine: sa.Engine) -> dict[str, object]:
    """Scan jobs by state and the oldest due one, for the metrics endpoint (read at scrape time)."""
    now = datetime.now(UTC)
    with engine.connect() as conn:
        jobs = conn.execute(sa.select(ScanJob.state, sa.func.count()).group_by(ScanJob.state)).all()
        oldest = conn.execute(
            sa.select(sa.func.min(ScanJob.run_after)).where(
                ScanJob.state == "queued", ScanJob.run_after <= now
            )
        ).scalar()
    return {"scan_jobs": [(str(s), int(c)) for s, c in jobs], "oldest_queued": oldest}
