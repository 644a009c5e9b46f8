"""A tenant's credentials as a plain frozen value, safe to hand to a thread or a job."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.tenants.models import Tenant
from app.tenants.snapshot import TenantSnapshot


@dataclass(frozen=True)
class Credentials:
    """A copy of what a Confluence client needs; ``repr`` leaves the secret out.

    Work that outlives a request (a scan job, a background call) takes this copy instead of the
    ``Tenant`` row, so it never touches a request's database session.
    """

    client_key: str
    base_url: str
    shared_secret: str = field(repr=False)
    oauth_client_id: str | None = None

    @classmethod
    def of(cls, tenant: Tenant | TenantSnapshot) -> Credentials:
        return cls(tenant.client_key, tenant.base_url, tenant.shared_secret, tenant.oauth_client_id)
