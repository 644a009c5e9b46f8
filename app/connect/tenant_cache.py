"""Installed tenants as this process last read them, kept at most ``APP_HOT_CACHE_SECONDS``.

A warm iframe load verifies its token without a database round trip: the tenant (and its unsealed
secret) comes from here. Correctness when another process or machine writes (docs/architecture.md,
"The hot path"):

* every entry expires ``ttl`` seconds after the read that filled it *began*, so a tenant uninstalled
  or reinstalled with a new secret anywhere is refused with its old state by every process at most
  ``ttl`` seconds after that write committed;
* this process's own lifecycle callbacks evict at once (the ``tenant_*`` signals), and an install
  clears everything, since a site move marks other tenants uninstalled in the same request;
* a token whose signature fails against a cached secret is checked once more against the secret read
  afresh, so a reinstall's new secret is accepted at once everywhere;
* a tenant that is not found (or not installed) is never kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from flask import Flask

from app.contexts import active_app
from app.expiring import ExpiringCache
from app.signals import tenant_disabled, tenant_enabled, tenant_installed, tenant_uninstalled
from app.tenants.models import Tenant
from app.tenants.snapshot import TenantSnapshot

_MAX_TENANTS: Final = 10_000
_EXTENSION: Final = "tenant_cache"

#: Reads an installed tenant from the store (``None``: unknown or uninstalled).
ReadInstalled = Callable[[str], Tenant | None]


class TenantCache:
    """client key → :class:`TenantSnapshot` of an installed tenant, for at most ``ttl`` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: ExpiringCache[str, TenantSnapshot] = ExpiringCache(ttl, _MAX_TENANTS, clock)

    def get(self, client_key: str) -> TenantSnapshot | None:
        """The kept copy, if one is younger than ``ttl``."""
        return self._entries.get(client_key)

    def load(self, client_key: str, read: ReadInstalled) -> TenantSnapshot | None:
        """Read the tenant afresh, keep it if it is installed, and return it (None: refuse)."""
        began = self._entries.now()
        tenant = read(client_key)
        if tenant is None or not tenant.installed:
            self._entries.discard([client_key])
            return None
        snapshot = TenantSnapshot.of(tenant)
        self._entries.put(client_key, snapshot, since=began)
        return snapshot

    def evict(self, client_key: str) -> None:
        self._entries.discard([client_key])

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def tenant_cache() -> TenantCache:
    """The current app's tenant cache."""
    found: TenantCache = active_app().extensions[_EXTENSION]
    return found


def init_app(app: Flask) -> None:
    """Give ``app`` its tenant cache, evicted by this process's own lifecycle callbacks."""
    cache = TenantCache(app.config["HOT_CACHE_SECONDS"])
    app.extensions[_EXTENSION] = cache

    def on_installed(_sender: Flask, **_kwargs: Any) -> None:
        cache.clear()  # a site move may have marked other tenants uninstalled in the same request

    def on_changed(_sender: Flask, tenant: Tenant, **_kwargs: Any) -> None:
        cache.evict(tenant.client_key)

    tenant_installed.connect(on_installed, sender=app, weak=False)
    for signal in (tenant_uninstalled, tenant_enabled, tenant_disabled):
        signal.connect(on_changed, sender=app, weak=False)
