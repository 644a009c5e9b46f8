"""The tenant store: the protocol the framework uses, and its SQLAlchemy implementation (no Flask).

The Connect code (inbound JWT, lifecycle, commands) asks for a store through :func:`tenant_store`,
typed by :class:`TenantStoreProtocol`; the framework extension (``app/framework.py``) decides which
implementation that is (:class:`TenantStore` by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.tenants.models import Tenant, utcnow
from app.tenants.payloads import LifecyclePayload


class TenantStoreProtocol(Protocol):
    """What the Connect framework needs of a tenant store; every write is durable when it returns."""

    def get(self, client_key: str) -> Tenant | None: ...
    def get_installed(self, client_key: str) -> Tenant | None: ...
    def list(self, *, include_uninstalled: bool = False) -> Sequence[Tenant]: ...
    def save_installation(self, payload: LifecyclePayload) -> Tenant: ...
    def mark_uninstalled(self, client_key: str) -> Tenant | None: ...
    def set_enabled(self, client_key: str, enabled: bool) -> Tenant | None: ...


#: Builds the store for one session (``app.extensions["tenant_store"]``).
StoreFactory = Callable[[Session], TenantStoreProtocol]


class TenantStore:
    """Tenant persistence over one SQLAlchemy session; every write commits before it returns."""

    def __init__(self, session: Session, clock: Callable[[], datetime] = utcnow) -> None:
        self._session = session
        self._clock = clock

    def get(self, client_key: str) -> Tenant | None:
        """Return the tenant row for ``client_key`` (installed or not), or None."""
        return self._session.get(Tenant, client_key)

    def get_installed(self, client_key: str) -> Tenant | None:
        """Return the tenant if it is currently installed, else None."""
        tenant = self.get(client_key)
        return tenant if tenant is not None and tenant.installed else None

    def list(self, *, include_uninstalled: bool = False) -> Sequence[Tenant]:
        """Return tenants ordered by client key."""
        query = sa.select(Tenant).order_by(Tenant.client_key)
        if not include_uninstalled:
            query = query.where(Tenant.installed.is_(True))
        return self._session.scalars(query).all()

    def save_installation(self, payload: LifecyclePayload) -> Tenant:
        """Insert or update the tenant from a *verified* ``installed`` payload."""
        assert payload.shared_secret is not None, "installed payloads always carry a secret"
        now = self._clock()
        tenant = self.get(payload.client_key)
        if tenant is None:
            tenant = Tenant(client_key=payload.client_key, installed_at=now)
            self._session.add(tenant)
        elif not tenant.installed:
            tenant.installed_at = now
        tenant.app_key = payload.app_key
        tenant.shared_secret = payload.shared_secret
        tenant.base_url = payload.base_url
        tenant.display_url = payload.display_url
        tenant.product_type = payload.product_type
        tenant.description = payload.description
        tenant.oauth_client_id = payload.oauth_client_id
        tenant.installation_id = payload.installation_id
        tenant.server_version = payload.server_version
        tenant.plugins_version = payload.plugins_version
        tenant.installed = True
        tenant.enabled = True
        tenant.uninstalled_at = None
        tenant.superseded_by = None
        tenant.updated_at = now
        self._session.commit()
        return tenant

    def mark_uninstalled(self, client_key: str) -> Tenant | None:
        """Keep the row but refuse its requests from now on; idempotent."""
        tenant = self.get(client_key)
        if tenant is not None and tenant.installed:
            now = self._clock()
            tenant.installed = False
            tenant.enabled = False
            tenant.uninstalled_at = now
            tenant.updated_at = now
            self._session.commit()
        return tenant

    def set_enabled(self, client_key: str, enabled: bool) -> Tenant | None:
        """Record an ``enabled``/``disabled`` event for an installed tenant; idempotent."""
        tenant = self.get_installed(client_key)
        if tenant is not None and tenant.enabled != enabled:
            tenant.enabled = enabled
            tenant.updated_at = self._clock()
            self._session.commit()
        return tenant
