"""What views need beyond the request: a Confluence client for the tenant, the clock, the reports.

Views copy the tenant's credentials into a frozen value (``Credentials``), so nothing they start
holds a request's session or ``g``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, current_app

from app.confluence.client import ConfluenceClient
from app.confluence.factory import ClientSettings, client_as_app
from app.reports.service import ReportService
from app.tenants.credentials import Credentials
from app.tenants.health import HealthRecorder


def app_client(app: Flask, creds: Credentials, recorder: HealthRecorder | None = None) -> ConfluenceClient:
    """A client that calls the tenant as the app, reporting to ``recorder``."""
    return client_as_app(creds, ClientSettings.from_config(app.config), on_event=recorder)


def now_utc() -> datetime:
    """The app clock (``CLOCK`` in config) as an aware UTC datetime."""
    clock: Callable[[], float] = current_app.config["CLOCK"]
    return datetime.fromtimestamp(clock(), UTC)


def report_service() -> ReportService:
    """The app's report service (one per app, see ``app/reports/tasks.py``)."""
    service: ReportService = current_app.extensions["reports"]
    return service
