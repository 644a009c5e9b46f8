"""JSON endpoints called from our iframes' JavaScript with a context JWT (``context-qsh`` only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.connect.auth import ANY_METHOD, now_seconds, require_jwt
from app.connect.requests_info import json_body
from app.db import get_session
from app.errors import (
    BadRequestError,
    InvalidPayloadError,
    MethodNotAllowedError,
    ReportGoneError,
    ViewerUnconfirmedError,
)
from app.observability.logs import tenant_tag
from app.reports.cache import ReportCache
from app.reports.model import ReportScope
from app.reports.settings import (
    ROWS_PER_PAGE_RANGE,
    SettingsValidationError,
    load_settings,
    parse_settings,
    save_settings,
)
from app.reports.visibility import ViewerCheckFailed
from app.views.authorization import require_site_admin
from app.views.report_page import (
    progress_json,
    render_report_fragment,
    report_context,
    rows_json,
    viewer_rows,
)
from app.views.scope_tokens import verify_scope
from app.views.tenant_client import report_service

bp = Blueprint("api", __name__, url_prefix="/api")

_MAX_OFFSET = 100_000
_MAX_SETTINGS_BYTES = 64 * 1024


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequestError(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def _scope_from_token() -> ReportScope:
    tenant = g.tenant
    return verify_scope(
        request.args.get("scope", ""),
        client_key=tenant.client_key,
        secret=tenant.shared_secret,
        now=now_seconds(),
    )


@bp.route("/freshness/items", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt(allow_context_qsh=True)
def freshness_items() -> ResponseReturnValue:
    """The next rows of a rendered report ("Show more"), for the scope the macro page was given.

    Reads the cached report only: Show more never starts a scan. ``offset`` counts the rows this
    viewer may see; each further 250 of the report's items are confirmed as the viewer (one call, then
    cached for a minute), and a failed check withholds the rows (503).
    """
    if request.method != "GET":
        raise MethodNotAllowedError("Use GET.", allowed=("GET",))
    tenant = g.tenant
    scope = _scope_from_token()
    offset = _bounded_int("offset", 0, 0, _MAX_OFFSET)
    limit = _bounded_int("limit", 10, *ROWS_PER_PAGE_RANGE)
    cached = report_service().cached(get_session(), tenant.client_key, scope)
    if cached is None:
        raise ReportGoneError()
    try:
        shown = viewer_rows(tenant, g.get("account_id"), scope, cached.report, offset=offset, limit=limit)
    except ViewerCheckFailed as exc:
        current_app.logger.warning("rows withheld for a viewer of %s: %s", tenant_tag(tenant.client_key), exc)
        raise ViewerUnconfirmedError() from None
    return jsonify(
        {
            "items": rows_json(tenant, shown.items, scope.stale_days),
            "offset": offset,
            "next": offset + len(shown.items) if shown.more else None,
        }
    )


@bp.route("/freshness/status", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt(allow_context_qsh=True)
def freshness_status() -> ResponseReturnValue:
    """How the scan of a scope is going; once its report exists, the report's HTML to swap in.

    Polled (with back-off) by the macro's progress page. Like a render, it never scans: it may
    only queue a scan job, and only when none is queued or running.
    """
    if request.method != "GET":
        raise MethodNotAllowedError("Use GET.", allowed=("GET",))
    tenant = g.tenant
    scope = _scope_from_token()
    rows = _bounded_int("rows", 10, *ROWS_PER_PAGE_RANGE)
    view = report_service().view(get_session(), tenant.client_key, scope)
    body = progress_json(view.job)
    if view.report is not None:
        context = report_context(
            tenant,
            g.get("account_id"),
            scope,
            view.report,
            page_size=rows,
            refresh=view.job,
            scope_token=request.args.get("scope", ""),
        )
        body.update(state="ready", html=render_report_fragment(**context))
    return jsonify(body)


@bp.route("/admin/settings", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt(allow_context_qsh=True)
def admin_settings() -> ResponseReturnValue:
    """GET the tenant's settings, or POST new ones; site administrators only."""
    require_site_admin()
    if request.method == "GET":
        return jsonify({"settings": load_settings(get_session(), g.tenant.client_key).as_json()})
    if request.method != "POST":
        raise MethodNotAllowedError("Use GET or POST.", allowed=("GET", "POST"))
    body: Any = json_body(request, max_bytes=_MAX_SETTINGS_BYTES, what="The settings")
    if not isinstance(body, dict):
        raise InvalidPayloadError("Send the settings as a JSON object.")
    try:
        settings = parse_settings(body)
    except SettingsValidationError as exc:
        return jsonify(
            {"error": "invalid_settings", "message": "Some settings need fixing.", "errors": exc.errors}
        ), 400
    session = get_session()
    save_settings(session, g.tenant.client_key, settings, updated_by=g.account_id)
    ReportCache(session).invalidate_tenant(g.tenant.client_key)
    current_app.logger.info("settings saved")  # the line names the tenant by its tag (request context)
    return jsonify({"settings": settings.as_json()})
