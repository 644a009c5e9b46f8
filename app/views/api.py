"""JSON endpoints called from our iframes' JavaScript with a context JWT (``context-qsh`` only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.connect.auth import ANY_METHOD, now_seconds, require_jwt
from app.db import get_session
from app.errors import BadRequestError, ConfluenceError, InvalidPayloadError, MethodNotAllowedError
from app.reports.cache import ReportCache
from app.tenants.settings import (
    ROWS_PER_PAGE_RANGE,
    SettingsValidationError,
    load_settings,
    parse_settings,
    save_settings,
)
from app.views.authorization import require_site_admin
from app.views.presenters import friendly_error, item_view
from app.views.scope_tokens import verify_scope
from app.views.tenant_client import now_utc, tenant_report

bp = Blueprint("api", __name__, url_prefix="/api")

_MAX_OFFSET = 100_000


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequestError(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


@bp.route("/freshness/items", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt(allow_context_qsh=True)
def freshness_items() -> ResponseReturnValue:
    """The next rows of a rendered report ("Show more"), for the scope the macro page was given."""
    if request.method != "GET":
        raise MethodNotAllowedError("Use GET.")
    tenant = g.tenant
    scope = verify_scope(
        request.args.get("scope", ""),
        client_key=tenant.client_key,
        secret=tenant.shared_secret,
        now=now_seconds(),
    )
    offset = _bounded_int("offset", 0, 0, _MAX_OFFSET)
    limit = _bounded_int("limit", 10, *ROWS_PER_PAGE_RANGE)
    settings = load_settings(get_session(), tenant.client_key)
    try:
        cached = tenant_report(tenant, scope, settings)
    except ConfluenceError as exc:
        title, message = friendly_error(exc)
        return jsonify({"error": exc.code, "title": title, "message": message}), 502
    now = now_utc()
    items = cached.report.items[offset : offset + limit]
    return jsonify(
        {
            "items": [item_view(tenant, item, now, scope.stale_days) for item in items],
            "offset": offset,
            "next": offset + len(items) if offset + len(items) < len(cached.report.items) else None,
            "total": len(cached.report.items),
        }
    )


@bp.route("/admin/settings", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt(allow_context_qsh=True)
def admin_settings() -> ResponseReturnValue:
    """GET the tenant's settings, or POST new ones; site administrators only."""
    require_site_admin()
    if request.method == "GET":
        return jsonify({"settings": load_settings(get_session(), g.tenant.client_key).as_json()})
    if request.method != "POST":
        raise MethodNotAllowedError("Use GET or POST.")
    body: Any = request.get_json(silent=True)
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
    current_app.logger.info("settings saved for %s", g.tenant.client_key)
    return jsonify({"settings": settings.as_json()})
