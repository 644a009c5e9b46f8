"""Build what a view needs to talk to the current tenant's Confluence, outside request state.

Views copy the tenant's credentials into a frozen value, so background refreshes never touch a
request's session or ``g``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app

from app.confluence.client import ConfluenceClient
from app.confluence.factory import ClientSettings, client_as_app
from app.reports.cache import CachedReport
from app.reports.model import FreshnessReport, ReportScope
from app.reports.scan import scan
from app.reports.service import ReportService
from app.tenants.health import HealthRecorder
from app.tenants.models import Tenant
from app.tenants.settings import ReportSettings


@dataclass(frozen=True)
class Credentials:
    """A copy of what a client needs; ``repr`` leaves the secret out."""

    client_key: str
    base_url: str
    shared_secret: str = field(repr=False)
    oauth_client_id: str | None = None

    @classmethod
    def of(cls, tenant: Tenant) -> Credentials:
        return cls(tenant.client_key, tenant.base_url, tenant.shared_secret, tenant.oauth_client_id)


def app_client(app: Flask, creds: Credentials, recorder: HealthRecorder | None = None) -> ConfluenceClient:
    """A client that calls the tenant as the app, reporting to ``recorder``."""
    return client_as_app(creds, ClientSettings.from_config(app.config), on_event=recorder)


def scanner_for(app: Flask, creds: Credentials) -> Callable[[ReportScope, datetime], FreshnessReport]:
    """A scan function bound to one tenant; it records health once per scan."""
    session_factory = app.extensions["db"]

    def run(scope: ReportScope, now: datetime) -> FreshnessReport:
        recorder = HealthRecorder(creds.client_key)
        try:
            with app_client(app, creds, recorder) as client:
                return scan(client, scope, now)
        finally:
            with session_factory() as session:
                recorder.flush(session)

    return run


def tenant_report(tenant: Tenant, scope: ReportScope, settings: ReportSettings) -> CachedReport:
    """The tenant's report for ``scope``: cached, stale while refreshing, or scanned now."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return report_service().get(
        tenant.client_key,
        scope,
        ttl=timedelta(minutes=settings.cache_ttl_minutes),
        scan=scanner_for(app, Credentials.of(tenant)),
    )


def now_utc() -> datetime:
    """The app clock (``CLOCK`` in config) as an aware UTC datetime."""
    clock: Callable[[], float] = current_app.config["CLOCK"]
    return datetime.fromtimestamp(clock(), UTC)


def report_service() -> ReportService:
    """The app's report service (one per app)."""
    service: ReportService = current_app.extensions["reports"]
    return service


def init_app(app: Flask) -> None:
    """Create the report service with a small pool for background refreshes."""
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="report-refresh")
    clock: Callable[[], float] = app.config["CLOCK"]

    def spawn(job: Callable[[], None]) -> None:
        pool.submit(job)

    app.extensions["report_pool"] = pool
    app.extensions["reports"] = ReportService(
        app.extensions["db"], clock=lambda: datetime.fromtimestamp(clock(), UTC), spawn=spawn
    )
