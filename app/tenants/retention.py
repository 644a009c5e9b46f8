"""What is kept of a tenant after it uninstalls the app, and for how long.

``uninstalled`` marks the tenant inactive at once (``installed`` false: every iframe, API call and
webhook of that site is refused, and the product stops its scans). Its data stays for
``APP_UNINSTALLED_RETENTION_DAYS`` days, so a reinstall within that window finds its settings again; a
tenant superseded by a site move (same ``baseUrl``, new ``clientKey``) is kept as long. After that, an
hourly job purges it: every row of every table that refers to the tenant (settings, health, reports,
scan jobs, throttles, content states, the personal data cycle — found through their foreign keys, so a
new table is covered the day it is added) and then the tenant row itself, with its shared secret. No
tombstone is kept: a site that installs after the purge is a new tenant.

No Flask globals here; :func:`init_app` registers the periodic job on the queue it is given.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from huey import crontab
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.db import Base
from app.tenants.models import Tenant

log = logging.getLogger(__name__)


def tenant_tables() -> list[tuple[sa.Table, sa.Column[Any]]]:
    """Every table with a column referring to ``tenant.client_key`` (dependants first), and that column."""
    found = []
    for table in reversed(Base.metadata.sorted_tables):
        if table.name == Tenant.__tablename__:
            continue
        for column in table.columns:
            if any(fk.column.table.name == Tenant.__tablename__ for fk in column.foreign_keys):
                found.append((table, column))
    return found


def purge_tenant(session: Session, client_key: str) -> dict[str, int]:
    """Delete every row of the tenant, then the tenant itself; commit. Returns rows deleted per table."""
    deleted: dict[str, int] = {}
    for table, column in tenant_tables():
        result = session.execute(sa.delete(table).where(column == client_key))
        deleted[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
    result = session.execute(sa.delete(Tenant).where(Tenant.client_key == client_key))
    deleted[Tenant.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
    session.commit()
    return deleted


def due_for_purge(session: Session, now: datetime, retention: timedelta) -> list[str]:
    """Tenants uninstalled (or superseded) longer than ``retention`` ago."""
    return list(
        session.scalars(
            sa.select(Tenant.client_key).where(
                Tenant.installed.is_(False), Tenant.uninstalled_at <= now - retention
            )
        ).all()
    )


def purge_expired(session: Session, now: datetime, retention: timedelta) -> list[str]:
    """Purge every tenant past its retention; returns their client keys."""
    purged = []
    for client_key in due_for_purge(session, now, retention):
        purge_tenant(session, client_key)
        purged.append(client_key)
    if purged:
        log.info("purged %d uninstalled tenant(s) after their retention", len(purged))
    return purged


def init_app(app: Flask, queue: Any) -> None:
    """Register the hourly purge on ``queue`` (a Huey instance)."""
    sessions = app.extensions["db"]

    def purge() -> None:
        retention = timedelta(days=int(app.config["UNINSTALLED_RETENTION_DAYS"]))
        with app.app_context(), sessions() as session:
            purge_expired(session, utc_now(app), retention)

    queue.periodic_task(crontab(minute="41"), name="tenants.purge")(purge)
