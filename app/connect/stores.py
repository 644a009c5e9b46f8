"""The tenant store of the current app, as the framework extension configured it."""

from __future__ import annotations

from flask import current_app

from app.db import get_session
from app.tenants.store import StoreFactory, TenantStore, TenantStoreProtocol


def tenant_store() -> TenantStoreProtocol:
    """The store for this app context's session (``app.extensions["tenant_store"]``, default SQLAlchemy)."""
    factory: StoreFactory = current_app.extensions.get("tenant_store", TenantStore)
    return factory(get_session())
