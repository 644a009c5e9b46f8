"""The product's side of webhooks: read each delivery, queue it, apply it in a worker.

``init_app`` registers a handler on the framework's webhook route (``app/connect/webhooks.py``), the
``reports.webhook`` task, an hourly task that forgets old content states, and the scan runner's
``reconcile`` step (a finished scan keeps the webhook changes newer than its start). The work itself
is in ``app/reports/webhook_updates.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from huey import crontab
from sqlalchemy.orm import Session

from app.clock import utc_clock
from app.confluence.client import ConfluenceClient
from app.confluence.factory import client_as_app
from app.connect.webhooks import register_handler
from app.jobs.queue import get_queue
from app.observability.logs import tenant_tag
from app.reports.model import FreshnessReport
from app.reports.runner import ScanRunner
from app.reports.service import ReportService
from app.reports.tasks import worker_client_settings
from app.reports.webhook_updates import (
    ConfluenceFacts,
    ContentChange,
    handle_change,
    parse_change,
    prune_states,
    reconcile,
)
from app.tenants.credentials import Credentials
from app.tenants.store import TenantStore

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Wire webhooks to the reports (after ``app.reports.tasks.init_app``)."""
    queue = get_queue(app)
    sessions = app.extensions["db"]
    client_settings = worker_client_settings(app.config)

    now = utc_clock(app)

    def apply(client_key: str, change_json: dict[str, Any]) -> None:
        change = ContentChange.from_json(change_json)
        with app.app_context(), sessions() as session:
            tenant = TenantStore(session).get_installed(client_key)
            if tenant is None:
                return  # uninstalled since: nothing of it is served any more
            creds = Credentials.of(tenant)

            def client() -> ConfluenceClient:
                return client_as_app(creds, client_settings)

            done = handle_change(
                session,
                client_key,
                change,
                base_url=tenant.base_url,
                facts=ConfluenceFacts(client),
                now=now(),
            )
            service: ReportService = app.extensions["reports"]
            for scope in done["expired_scopes"] if done is not None else []:
                service.request_scan(session, client_key, scope)
        log.info(
            "webhook %s for %s: %s",
            change.event,
            tenant_tag(client_key),
            "older or duplicate"
            if done is None
            else {k: v for k, v in done.items() if k != "expired_scopes"},
        )

    apply_task: Any = queue.task(name="reports.webhook")(apply)

    def handle(client_key: str, event: str, body: dict[str, Any]) -> None:
        change = parse_change(event, body)  # a 400 before anything is queued
        apply_task(client_key, change.to_json())

    register_handler(app, handle)

    def prune() -> None:
        with app.app_context(), sessions() as session:
            prune_states(session, now())

    queue.periodic_task(crontab(minute="17"), name="reports.webhook_prune")(prune)

    def reconcile_scan(session: Session, client_key: str, report: FreshnessReport) -> FreshnessReport:
        tenant = TenantStore(session).get(client_key)
        if tenant is None:
            return report
        return reconcile(session, client_key, report, base_url=tenant.base_url, now=now())

    runner: ScanRunner = app.extensions["scan_runner"]
    runner.reconcile = reconcile_scan
