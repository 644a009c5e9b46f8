"""An installed tenant as a request sees it: a frozen copy of its row, safe to share and keep briefly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from app.tenants.models import Tenant


@dataclass(frozen=True)
class TenantSnapshot:
    """What requests read of a tenant, copied out of its row (the shared secret unsealed).

    Unlike the ORM row it belongs to no session, so one copy can serve every thread of a process for
    the short time the tenant cache keeps it (``app/connect/tenant_cache.py``). ``repr`` leaves the
    secret out.
    """

    client_key: str
    app_key: str
    base_url: str
    display_url: str | None
    shared_secret: str = field(repr=False)
    oauth_client_id: str | None
    installed: bool
    enabled: bool
    installed_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantSnapshot:
        return cls(
            client_key=tenant.client_key,
            app_key=tenant.app_key,
            base_url=tenant.base_url,
            display_url=tenant.display_url,
            shared_secret=tenant.shared_secret,
            oauth_client_id=tenant.oauth_client_id,
            installed=tenant.installed,
            enabled=tenant.enabled,
            installed_at=tenant.installed_at,
        )

    @property
    def site_name(self) -> str:
        """The site's host (and port, if any) as people know it: from ``displayUrl`` if set."""
        return urlsplit(self.display_url or self.base_url).netloc
