"""Server-side authorization: only users whom Confluence reports as site administrators.

Descriptor conditions are evaluated by Confluence's browser code and are not a security boundary
(https://developer.atlassian.com/cloud/confluence/conditions/), so every admin page and action asks
Confluence itself, through
``GET /rest/api/user?accountId=…&expand=operations``: an administrator has the operation
``administer`` on ``application``. The answer is cached per tenant and user for ``TTL_SECONDS``.
It fails closed: when Confluence cannot answer, the request is refused with 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from flask import current_app, g

from app.contexts import active_app
from app.db import get_session
from app.errors import ConfluenceError, NotAdminError, ServiceUnavailableError
from app.expiring import ExpiringCache
from app.observability.logs import tenant_tag
from app.tenants.credentials import Credentials
from app.tenants.health import HealthRecorder
from app.views.tenant_client import app_client

TTL_SECONDS: Final = 60.0
_MAX_ENTRIES: Final = 10_000


class AdminCache(ExpiringCache[tuple[str, str], bool]):
    """(tenant, account) → is a site administrator, for ``TTL_SECONDS``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(TTL_SECONDS, _MAX_ENTRIES, clock)


def is_known_site_admin(client_key: str, account_id: str) -> bool:
    """Whether this process holds a fresh answer that ``account_id`` administers the site (asks nobody)."""
    cache: AdminCache = active_app().extensions["admin_cache"]
    return cache.get((client_key, account_id)) is True


def require_site_admin() -> None:
    """Raise NotAdminError (403) unless the token's user administers the site; 503 if unknown."""
    account_id: str | None = g.get("account_id")
    if not account_id:
        raise NotAdminError()
    tenant = g.tenant
    cache: AdminCache = active_app().extensions["admin_cache"]
    answer = cache.get((tenant.client_key, account_id))
    if answer is None:
        recorder = HealthRecorder(tenant.client_key)
        try:
            with app_client(active_app(), Credentials.of(tenant), recorder) as client:
                answer = client.is_site_admin(account_id)
        except ConfluenceError as exc:
            current_app.logger.warning(
                "admin check failed for %s: %s", tenant_tag(tenant.client_key), exc.message
            )
            raise ServiceUnavailableError(
                "Confluence could not confirm that you are an administrator. Try again shortly."
            ) from exc
        finally:
            recorder.flush(get_session())
        cache.put((tenant.client_key, account_id), answer)
    if not answer:
        raise NotAdminError()
