"""Personal data reporting: tell Atlassian which accounts we store, erase closed ones, refresh updated ones.

Atlassian's user privacy guide for app developers
(https://developer.atlassian.com/cloud/confluence/user-privacy-developer-guide/): an app that stores
account ids reports them with ``POST /app/report-accounts/`` (at most 90 per request, each with the time
we last fetched its data); the answer lists accounts that are ``closed`` (erase their personal data) or
``updated`` (refresh it), 204 when none need action; ``Cycle-Period`` says when to report again; 429
carries ``Retry-After``. ``docs/privacy.md`` lists what we store and for how long.

What this app stores per tenant: report rows' editors (``report_cache`` payloads, a running scan's
checkpoint, the latest webhook change per page in ``content_state``) and ``tenant_settings.updated_by``.
Display names are only in memory (``app/reports/visibility.py``).

* ``closed``: every stored copy of the account id is replaced by :data:`ERASED_ACCOUNT` (shown as
  "Former user"), ``updated_by`` is cleared, and the in-process name cache forgets it.
* ``updated``: the name cache forgets it (names are fetched again on the next render).

A scan that runs after an erasure reads the closed account's id from Confluence again (the versions
still name it); the next cycle reports it again and erases it again.

No Flask here except :func:`init_app`, which registers the periodic task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from flask import Flask
from huey import crontab
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import utc_now
from app.confluence.client import ConfluenceClient
from app.confluence.factory import client_as_app
from app.db import Base, as_utc
from app.errors import ConfluenceRateLimitedError
from app.observability.logs import tenant_tag
from app.reports.cache import ReportCache, ReportCacheEntry
from app.reports.jobs import ScanJob
from app.reports.model import FreshnessReport
from app.reports.settings import TenantSettingsRow
from app.reports.tasks import worker_client_settings
from app.reports.visibility import ERASED_ACCOUNT, Visibility
from app.reports.webhook_updates import ContentState, next_version
from app.tenants.credentials import Credentials
from app.tenants.models import Tenant

log = logging.getLogger(__name__)

#: Reads of a row that other writers keep changing before erasing gives up on it (until the next cycle).
_ATTEMPTS: Final = 8

#: Accounts per request (the guide's limit).
BATCH: Final = 90
#: The cycle when the API does not say (the guide's default: 7 days).
DEFAULT_CYCLE: Final = timedelta(days=7)
#: A 429 without ``Retry-After`` is tried again after this long.
DEFAULT_RETRY: Final = timedelta(minutes=5)
#: The longest cycle we accept from a header (anything above is capped).
MAX_CYCLE: Final = timedelta(days=30)


class PersonalDataCycle(Base):
    """When a tenant's stored accounts are next reported, and how the last report went."""

    __tablename__ = "personal_data_cycle"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_outcome: Mapped[str | None] = mapped_column(sa.String(64))


# -- what we store -------------------------------------------------------------------------------------


def stored_accounts(session: Session, client_key: str) -> dict[str, datetime]:
    """Every account id stored for the tenant, with when we last fetched its data."""
    found: dict[str, datetime] = {}

    def note(account_id: Any, when: datetime) -> None:
        if isinstance(account_id, str) and account_id and account_id != ERASED_ACCOUNT:
            when = as_utc(when)
            if account_id not in found or found[account_id] < when:
                found[account_id] = when

    for payload in session.scalars(
        sa.select(ReportCacheEntry.payload).where(ReportCacheEntry.client_key == client_key)
    ):
        report = FreshnessReport.from_json(json.loads(payload))
        for item in report.items:
            note(item.editor, report.computed_at)
    for raw, when in session.execute(
        sa.select(ScanJob.checkpoint, ScanJob.requested_at).where(
            ScanJob.client_key == client_key, ScanJob.checkpoint.is_not(None)
        )
    ).all():
        for editor in _checkpoint_editors(json.loads(raw or "{}")):
            note(editor, when)
    for raw in session.scalars(sa.select(ContentState.change).where(ContentState.client_key == client_key)):
        change = json.loads(raw)
        note(change.get("editor"), datetime.fromisoformat(change["updated_at"]))
    settings = session.get(TenantSettingsRow, client_key)
    if settings is not None:
        note(settings.updated_by, settings.updated_at)
    return found


def _checkpoint_editors(data: dict[str, Any]) -> Iterable[Any]:
    for item in data.get("kept") or []:
        yield item.get("editor")
    for row in data.get("tree") or []:
        yield row[2].get("editor")


# -- erasing ---------------------------------------------------------------------------------------------


def erase_accounts(session: Session, client_key: str, closed: set[str], now: datetime) -> int:
    """Replace every stored copy of the tenant's ``closed`` account ids; commits; returns rows changed.

    Reports, scan checkpoints and webhook order records are also written by scans and webhook jobs:
    each row is rewritten only if it still holds what was read (else it is read again), so erasing
    never puts back an older version over another writer's.
    """
    if not closed:
        return 0

    def erase_report(payload: str) -> dict[str, Any] | None:
        data = json.loads(payload)
        if not _erase_in_items(data.get("items") or [], closed):
            return None
        version = next_version(as_utc(datetime.fromisoformat(data["computed_at"])), now)
        data["computed_at"] = version.isoformat()  # a new version: no process keeps the old rows
        return {"payload": json.dumps(data), "computed_at": version}

    def erase_checkpoint(raw: str) -> dict[str, Any] | None:
        data = json.loads(raw or "{}")
        hit = _erase_in_items(data.get("kept") or [], closed)
        hit = _erase_in_items([row[2] for row in data.get("tree") or []], closed) or hit
        return {"checkpoint": json.dumps(data)} if hit else None

    def erase_change(raw: str) -> dict[str, Any] | None:
        data = json.loads(raw)
        if data.get("editor") not in closed:
            return None
        data["editor"] = ERASED_ACCOUNT
        return {"change": json.dumps(data)}

    changed = 0
    for (scope_key,) in session.execute(
        sa.select(ReportCacheEntry.scope_key).where(ReportCacheEntry.client_key == client_key)
    ).all():
        where = (ReportCacheEntry.client_key == client_key, ReportCacheEntry.scope_key == scope_key)
        changed += _rewrite(session, ReportCacheEntry, where, ReportCacheEntry.payload, erase_report)
    for (scope_key,) in session.execute(
        sa.select(ScanJob.scope_key).where(ScanJob.client_key == client_key, ScanJob.checkpoint.is_not(None))
    ).all():
        where = (ScanJob.client_key == client_key, ScanJob.scope_key == scope_key)
        changed += _rewrite(session, ScanJob, where, ScanJob.checkpoint, erase_checkpoint)
    for (content_id,) in session.execute(
        sa.select(ContentState.content_id).where(ContentState.client_key == client_key)
    ).all():
        where = (ContentState.client_key == client_key, ContentState.content_id == content_id)
        changed += _rewrite(session, ContentState, where, ContentState.change, erase_change)
    result = session.execute(
        sa.update(TenantSettingsRow)
        .where(TenantSettingsRow.client_key == client_key, TenantSettingsRow.updated_by.in_(closed))
        .values(updated_by=None)
    )
    changed += int(result.rowcount)  # type: ignore[attr-defined]
    session.commit()
    ReportCache(session).forget(client_key)
    return changed


def _rewrite(
    session: Session,
    model: type[Base],
    where: tuple[sa.ColumnElement[bool], ...],
    column: Any,
    rewrite: Callable[[str], dict[str, Any] | None],
) -> int:
    """Set ``rewrite(value)`` on the one row ``where`` names unless it is None; 1 if written.

    The UPDATE also requires ``column`` to still hold the value read; when another writer changed it in
    between, the row is read again (at most ``_ATTEMPTS`` times).
    """
    for _ in range(_ATTEMPTS):
        value = session.scalar(sa.select(column).where(*where))
        values = rewrite(value) if value is not None else None
        if values is None:
            return 0
        result = session.execute(sa.update(model).where(*where, column == value).values(**values))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return 1
    log.warning("could not erase closed accounts from a %s row: it kept changing", model.__tablename__)
    return 0


def _erase_in_items(items: list[dict[str, Any]], closed: set[str]) -> bool:
    hit = False
    for item in items:
        if item.get("editor") in closed:
            item["editor"] = ERASED_ACCOUNT
            hit = True
    return hit


# -- reporting -------------------------------------------------------------------------------------------


@dataclass
class ReportOutcome:
    """What one tenant's report found, and when to report again."""

    closed: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    next_run_at: datetime | None = None
    rate_limited: bool = False
    batches: int = 0


Post = Callable[[list[dict[str, str]]], tuple[int, dict[str, str], Any]]


def report_accounts(accounts: dict[str, datetime], post: Post, now: datetime) -> ReportOutcome:
    """Report ``accounts`` in batches of :data:`BATCH` with ``post`` (status, headers, JSON body).

    A 429 stops the run: ``next_run_at`` is then ``Retry-After`` from now (rescheduled, never slept).
    """
    outcome = ReportOutcome()
    cycle: timedelta | None = None
    ids = sorted(accounts)
    for start in range(0, len(ids), BATCH):
        batch = [{"accountId": a, "updatedAt": _stamp(accounts[a])} for a in ids[start : start + BATCH]]
        try:
            status, headers, body = post(batch)
        except ConfluenceRateLimitedError as exc:
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else DEFAULT_RETRY
            outcome.rate_limited = True
            outcome.next_run_at = now + max(wait, timedelta(seconds=1))
            return outcome
        outcome.batches += 1
        cycle = _cycle(headers.get("Cycle-Period")) or cycle
        if status == 200 and isinstance(body, dict):
            for entry in body.get("accounts") or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("accountId"), str):
                    continue
                if entry.get("status") == "closed":
                    outcome.closed.add(entry["accountId"])
                elif entry.get("status") == "updated":
                    outcome.updated.add(entry["accountId"])
    outcome.next_run_at = now + (cycle or DEFAULT_CYCLE)
    return outcome


def _cycle(raw: str | None) -> timedelta | None:
    try:
        seconds = int(str(raw).strip()) if raw is not None else 0
    except ValueError:
        return None
    return min(timedelta(seconds=seconds), MAX_CYCLE) if seconds > 0 else None


def _stamp(when: datetime) -> str:
    return as_utc(when).strftime("%Y-%m-%dT%H:%M:%S.") + f"{as_utc(when).microsecond // 1000:03d}Z"


def poster(client: ConfluenceClient, url: str) -> Post:
    """POST a batch to the reporting API at ``url`` (a path is resolved against the tenant's baseUrl)."""
    absolute = url if url.startswith(("http://", "https://")) else client.base_url + url

    def post(batch: list[dict[str, str]]) -> tuple[int, dict[str, str], Any]:
        response = client.transport.send("POST", absolute, auth=client.auth, json={"accounts": batch})
        body = response.json() if response.status_code == 200 and response.content else None
        return response.status_code, dict(response.headers), body

    return post


def due_tenants(session: Session, now: datetime) -> list[str]:
    """Installed tenants whose report is due (never reported counts as due)."""
    cycle = sa.select(PersonalDataCycle.client_key).where(PersonalDataCycle.next_run_at > now)
    return list(
        session.scalars(
            sa.select(Tenant.client_key).where(Tenant.installed.is_(True), Tenant.client_key.not_in(cycle))
        ).all()
    )


def run_tenant(
    session: Session,
    tenant: Tenant,
    *,
    connect: Callable[[Credentials], ConfluenceClient],
    url: str,
    now: datetime,
    visibility: Visibility | None = None,
) -> ReportOutcome:
    """Report one tenant's accounts, act on the answer, and store when to report again; commits."""
    accounts = stored_accounts(session, tenant.client_key)
    if accounts:
        with connect(Credentials.of(tenant)) as client:
            outcome = report_accounts(accounts, poster(client, url), now)
    else:
        outcome = ReportOutcome(next_run_at=now + DEFAULT_CYCLE)
    erase_accounts(session, tenant.client_key, outcome.closed, now)
    if visibility is not None:
        visibility.forget_names(tenant.client_key, sorted(outcome.closed | outcome.updated))
    row = session.get(PersonalDataCycle, tenant.client_key)
    if row is None:
        row = PersonalDataCycle(client_key=tenant.client_key)
        session.add(row)
    assert outcome.next_run_at is not None
    row.next_run_at = outcome.next_run_at
    row.last_run_at = now
    row.last_outcome = (
        "rate limited"
        if outcome.rate_limited
        else f"{len(accounts)} reported, {len(outcome.closed)} closed, {len(outcome.updated)} updated"
    )
    session.commit()
    log.info("personal data report for %s: %s", tenant_tag(tenant.client_key), row.last_outcome)
    return outcome


def init_app(app: Flask, queue: Any) -> None:
    """Every five minutes, report the tenants that are due (``app.extensions["personal_data"]``)."""
    sessions = app.extensions["db"]
    settings = worker_client_settings(app.config)

    def connect(creds: Credentials) -> ConfluenceClient:
        return client_as_app(creds, settings)

    def run_due() -> int:
        now = utc_now(app)
        done = 0
        with app.app_context(), sessions() as session:
            for client_key in due_tenants(session, now):
                tenant = session.get(Tenant, client_key)
                if tenant is None:
                    continue
                try:
                    run_tenant(
                        session,
                        tenant,
                        connect=connect,
                        url=str(app.config["PERSONAL_DATA_URL"]),
                        now=now,
                        visibility=app.extensions.get("visibility"),
                    )
                    done += 1
                except Exception as exc:  # one tenant's failure must not stop the others
                    session.rollback()
                    log.warning(
                        "personal data report for %s failed: %s", tenant_tag(client_key), type(exc).__name__
                    )
        return done

    queue.periodic_task(crontab(minute="*/5"), name="reports.personal_data")(run_due)
    app.extensions["personal_data"] = run_due
