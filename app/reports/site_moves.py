"""Site moves: a site imported into a new site at the same address installs the app again under a
new ``clientKey`` (https://developer.atlassian.com/platform/app-migration/ describes why clientKeys
change; the emulator's ``POST /_emulator/site/migrate`` plays it).

When a *verified* install arrives whose ``baseUrl`` is the address of another active tenant, the new
tenant takes over: the old one's settings are copied to it (unless it has its own), and the old tenant
is marked uninstalled and ``superseded_by`` the new key, so it is kept only for the retention window
(``app/tenants/retention.py``) and shows as superseded in ``flask tenants list``. Its reports are not
copied: they are keyed by the old clientKey, and the new tenant's first views scan afresh.

The caller must first prove that the new installation really answers at that address (a request
signed with the new shared secret that the site accepts): the install body's ``baseUrl`` is not
covered by Atlassian's signature, so without that proof any site could claim another's address.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.observability.logs import tenant_tag
from app.reports.settings import TenantSettingsRow
from app.tenants.models import Tenant

log = logging.getLogger(__name__)


def same_site_tenants(session: Session, tenant: Tenant) -> Sequence[Tenant]:
    """Other installed tenants at ``tenant``'s base URL."""
    return session.scalars(
        sa.select(Tenant).where(
            Tenant.base_url == tenant.base_url,
            Tenant.client_key != tenant.client_key,
            Tenant.installed.is_(True),
        )
    ).all()


def take_over(session: Session, new: Tenant, old: Sequence[Tenant], now: datetime) -> list[str]:
    """Carry the settings of ``old`` tenants over to ``new`` and mark them superseded; commits."""
    moved = []
    for previous in sorted(old, key=lambda t: t.installed_at):
        settings = session.get(TenantSettingsRow, previous.client_key)
        if settings is not None and session.get(TenantSettingsRow, new.client_key) is None:
            session.add(
                TenantSettingsRow(
                    client_key=new.client_key,
                    stale_days=settings.stale_days,
                    cache_ttl_minutes=settings.cache_ttl_minutes,
                    rows_per_page=settings.rows_per_page,
                    excluded_spaces=settings.excluded_spaces,
                    updated_at=settings.updated_at,
                    updated_by=settings.updated_by,
                )
            )
            session.flush()
        previous.installed = False
        previous.enabled = False
        previous.uninstalled_at = now
        previous.updated_at = now
        previous.superseded_by = new.client_key
        moved.append(previous.client_key)
        log.info(
            "site move: tenant %s superseded by %s (%s)",
            tenant_tag(previous.client_key),
            tenant_tag(new.client_key),
            new.base_url,
        )
    session.commit()
    return moved
