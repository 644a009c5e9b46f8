"""What the product does when a tenant's lifecycle changes (the framework sends the signals).

* ``tenant_installed``: a site move (``app/reports/site_moves.py``). If other active tenants share the
  new tenant's ``baseUrl``, a job (the site registers an installation only after our callback answered)
  makes one request signed with the *new* shared secret at that address; only when the site accepts it
  does the new tenant take over their settings, and they are marked superseded. Tried a few times.
* ``tenant_uninstalled``: every scan of the tenant stops. Queued jobs are ended (a worker that picks up
  their message finds nothing to claim), and a running scan loses its claim, so its next progress
  write fails and it stops (``app/reports/runner.py``: "taken over; stopping").
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from flask import Flask
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.confluence.factory import ClientSettings, client_as_app
from app.jobs.queue import get_queue
from app.observability.logs import tenant_tag
from app.reports.jobs import ScanJobs
from app.reports.site_moves import same_site_tenants, take_over
from app.signals import tenant_installed, tenant_uninstalled
from app.tenants.credentials import Credentials
from app.tenants.store import TenantStore

log = logging.getLogger(__name__)

STOPPED_MESSAGE: Final = "The app was uninstalled from this site."
#: Seconds before each check that a new installation answers at the address it claims.
MOVE_CHECK_DELAYS: Final = (1.0, 5.0, 30.0, 120.0, 600.0)


def stop_scans(session: Session, client_key: str, now: datetime) -> int:
    """End every queued or running scan of the tenant; returns how many; commits."""
    return ScanJobs(session).stop_tenant(client_key, now=now, message=STOPPED_MESSAGE)


def init_app(app: Flask) -> None:
    """Subscribe to the lifecycle signals this app sends."""
    sessions = app.extensions["db"]

    def on_uninstalled(sender: Any, tenant: Any, **_: Any) -> None:
        with sessions() as session:
            stopped = stop_scans(session, tenant.client_key, utc_now(app))
        if stopped:
            log.info("stopped %d scan(s) of uninstalled tenant %s", stopped, tenant_tag(tenant.client_key))

    tenant_uninstalled.connect(on_uninstalled, sender=app, weak=False)

    queue = get_queue(app)

    def check_site_move(client_key: str, attempt: int) -> None:
        with sessions() as session:
            new = TenantStore(session).get_installed(client_key)
            old = same_site_tenants(session, new) if new is not None else []
            if new is None or not old:
                return
            if not answers_at_its_address(app, Credentials.of(new)):
                if attempt + 1 < len(MOVE_CHECK_DELAYS):
                    move_task.schedule((client_key, attempt + 1), delay=MOVE_CHECK_DELAYS[attempt + 1])
                else:
                    log.warning(
                        "install of %s claims the address of %d active tenant(s), but the site never "
                        "accepted its secret; no settings carried over",
                        tenant_tag(client_key),
                        len(old),
                    )
                return
            take_over(session, new, old, utc_now(app))

    move_task: Any = queue.task(name="tenants.site_move")(check_site_move)

    def on_installed(sender: Any, tenant: Any, **_: Any) -> None:
        with sessions() as session:
            new = TenantStore(session).get_installed(tenant.client_key)
            if new is None or not same_site_tenants(session, new):
                return
        # The site registers the installation only once our callback has answered: prove it later.
        move_task.schedule((tenant.client_key, 0), delay=MOVE_CHECK_DELAYS[0])

    tenant_installed.connect(on_installed, sender=app, weak=False)


def answers_at_its_address(app: Flask, creds: Credentials) -> bool:
    """Whether the site at ``creds.base_url`` accepts a request signed with ``creds``' shared secret."""
    quick = replace(ClientSettings.from_config(app.config), max_attempts=1, max_retry_after=0.0)
    try:
        with client_as_app(creds, quick) as client:
            client.get("/spaces", {"limit": "1"})
    except Exception as exc:  # refused, unreachable, anything: no proof
        log.info("site move check failed: %s", type(exc).__name__)
        return False
    return True
