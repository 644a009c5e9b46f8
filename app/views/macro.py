"""The content-freshness dynamic content macro, rendered in an iframe inside a Confluence page."""

from __future__ import annotations

from flask import Blueprint, current_app, g, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.connect.auth import ANY_METHOD, now_seconds, require_jwt
from app.db import get_session
from app.errors import ConfluenceError, MethodNotAllowedError
from app.tenants.settings import load_settings
from app.views.macro_params import MacroParams
from app.views.presenters import elapsed, friendly_error, item_view
from app.views.scope_tokens import sign_scope
from app.views.tenant_client import now_utc, tenant_report

bp = Blueprint("macro", __name__)


@bp.route("/macros/freshness", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt()
def freshness() -> ResponseReturnValue:
    """Render the freshness report for the macro's scope (cached per tenant and scope)."""
    if request.method not in {"GET", "HEAD"}:
        raise MethodNotAllowedError("The macro is loaded with GET.")
    tenant = g.tenant
    settings = load_settings(get_session(), tenant.client_key)
    params = MacroParams.parse(request.args, settings)
    scope = params.scope
    if settings.excludes(scope.space_key):
        return render_template("macro/excluded.html", scope=scope)
    try:
        cached = tenant_report(tenant, scope, settings)
    except ConfluenceError as exc:
        current_app.logger.warning("report for %s failed: %s", tenant.client_key, exc.message)
        title, message = friendly_error(exc)
        status = 404 if exc.status_code == 404 else 502
        return make_response(render_template("macro/error.html", title=title, message=message), status)
    now = now_utc()
    report = cached.report
    rows = [item_view(tenant, item, now, scope.stale_days) for item in report.items[: params.rows]]
    scope_token = sign_scope(
        scope, client_key=tenant.client_key, secret=tenant.shared_secret, now=now_seconds()
    )
    return render_template(
        "macro/freshness.html",
        report=report,
        scope=scope,
        rows=rows,
        page_size=params.rows,
        more=len(report.items) > params.rows,
        oldest=item_view(tenant, report.oldest, now, scope.stale_days) if report.oldest else None,
        stale_cache=cached.stale,
        computed_ago=elapsed(report.computed_at, now),
        items_url=url_for("api.freshness_items"),
        scope_token=scope_token,
    )
