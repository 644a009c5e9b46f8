"""What views need beyond the request: a Confluence client for the tenant, the clock, the reports.

Views copy the tenant's credentials into a frozen value (``Credentials``), so nothing they start
holds a request's session or ``g``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from flask import Flask

from app.clock import utc_now
from app.confluence.client import ConfluenceClient
from app.confluence.factory import ClientSettings, client_as_app, client_as_user
from app.confluence.oauth import TokenCache
from app.contexts import active_app
from app.page_memo import RenderMemo
from app.reports.service import ReportService
from app.reports.visibility import FetchNames, ReadableIds, Visibility
from app.tenants.credentials import Credentials
from app.tenants.health import HealthRecorder
from app.tenants.snapshot import TenantSnapshot


def app_client(app: Flask, creds: Credentials, recorder: HealthRecorder | None = None) -> ConfluenceClient:
    """A client that calls the tenant as the app, reporting to ``recorder``."""
    return client_as_app(creds, ClientSettings.from_config(app.config), on_event=recorder)


def render_client_settings(app: Flask) -> ClientSettings:
    """Settings for calls made while a viewer waits: one quick retry, no long ``Retry-After`` waits."""
    settings = ClientSettings.from_config(app.config)
    return replace(
        settings,
        max_attempts=min(settings.max_attempts, 2),
        max_retry_after=min(settings.max_retry_after, 2.0),
        max_total_seconds=min(settings.max_total_seconds, 8.0),
    )


def readable_ids(tenant: TenantSnapshot, account_id: str, content_type: str) -> ReadableIds:
    """A function answering "which of these ids may ``account_id`` read", asking as that user."""
    app = active_app()
    creds = Credentials.of(tenant)

    def ask(ids: list[str]) -> set[str]:
        tokens: TokenCache = app.extensions["user_tokens"]
        with client_as_user(creds, account_id, render_client_settings(app), tokens) as client:
            return {str(item.get("id")) for item in client.readable_among(content_type, ids)}

    return ask


def display_names(tenant: TenantSnapshot) -> FetchNames:
    """A function resolving account ids to display names with one users-bulk call, as the app."""
    app = active_app()
    creds = Credentials.of(tenant)

    def fetch(account_ids: list[str]) -> dict[str, str]:
        with client_as_app(creds, render_client_settings(app)) as client:
            users = client.users_bulk(account_ids)
        names: dict[str, str] = {}
        for user in users:
            account_id, name = user.get("accountId"), user.get("displayName") or user.get("publicName")
            if isinstance(account_id, str) and isinstance(name, str) and name:
                names[account_id] = name
        return names

    return fetch


def visibility() -> Visibility:
    """The app's caches of viewers' answers and display names (one per process)."""
    found: Visibility = active_app().extensions["visibility"]
    return found


def init_app(app: Flask) -> None:
    """The per-process caches the views use: user tokens, viewers' answers and display names, and
    the macro's rendered pages."""
    app.extensions["user_tokens"] = TokenCache()
    app.extensions["visibility"] = Visibility()
    app.extensions["macro_render_memo"] = RenderMemo()


def now_utc() -> datetime:
    """The app clock as an aware UTC datetime (``app/clock.py``)."""
    return utc_now()


def report_service() -> ReportService:
    """The app's report service (one per app, see ``app/reports/tasks.py``)."""
    service: ReportService = active_app().extensions["reports"]
    return service
