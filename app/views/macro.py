"""The content-freshness dynamic content macro, rendered in an iframe inside a Confluence page.

A render never calls Confluence: it shows the cached report (queuing a refresh when it has expired),
or, before the first scan of a scope has ended, a progress page that follows the scan job.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.connect.auth import ANY_METHOD, require_jwt
from app.db import get_session
from app.errors import MethodNotAllowedError
from app.page_memo import RenderMemo
from app.reports.settings import load_settings
from app.views import render_memo
from app.views.macro_params import MacroParams
from app.views.presenters import elapsed
from app.views.report_page import (
    page_memo_key,
    progress_json,
    report_context,
    scope_token_for,
    visible_rows,
)
from app.views.tenant_client import report_service

bp = Blueprint("macro", __name__)


def memo() -> RenderMemo:
    """This app's memo of rendered macro pages (one per app and process)."""
    found: RenderMemo = current_app.extensions["macro_render_memo"]
    return found


@bp.route("/macros/freshness", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt()
def freshness() -> ResponseReturnValue:
    """Render the freshness report for the macro's scope, or the progress of its first scan."""
    if request.method not in {"GET", "HEAD"}:
        raise MethodNotAllowedError("The macro is loaded with GET.", allowed=("GET", "HEAD"))
    tenant = g.tenant
    session = get_session()
    settings = load_settings(session, tenant.client_key, recent_ok=True)
    params = MacroParams.parse(request.args, settings)
    scope = params.scope
    if settings.excludes(scope.space_key):
        return render_template("macro/excluded.html", scope=scope)
    view = report_service().view(session, tenant.client_key, scope)
    token = scope_token_for(tenant, scope)
    if view.report is not None:
        report, refresh = view.report, view.job
        rows = visible_rows(tenant, g.get("account_id"), scope, report, page_size=params.rows)

        def render() -> str:
            # The page is memoised without its per-request values, which are put in after.
            context = report_context(
                tenant,
                g.get("account_id"),
                scope,
                report,
                page_size=params.rows,
                refresh=refresh,
                scope_token=render_memo.SCOPE_TOKEN,
                rows=rows,
            )
            context["computed_ago"] = render_memo.COMPUTED_AGO
            return render_template("macro/freshness.html", **context)

        page = memo().get_or_render(
            page_memo_key(tenant, report, settings, scope, params.rows, refresh, rows), render
        )
        return render_memo.fill(page, scope_token=token, computed_ago=elapsed(report.computed_at, rows.now))
    job = view.job
    if job is not None and job.state == "failed":
        return render_template(
            "macro/error.html",
            title="The report could not be made",
            message=(job.message or "The scan failed.") + " We will try again when the page is next viewed.",
        )
    return render_template(
        "macro/scanning.html",
        scope=scope,
        progress=progress_json(job),
        status_url=url_for("api.freshness_status"),
        scope_token=token,
        page_size=params.rows,
    )
