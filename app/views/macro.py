"""The content-freshness dynamic content macro, rendered in an iframe inside a Confluence page.

A render never calls Confluence: it shows the cached report (queuing a refresh when it has expired),
or, before the first scan of a scope has ended, a progress page that follows the scan job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from flask import Blueprint, Flask, g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app import hot_path
from app.connect.auth import ANY_METHOD, require_jwt
from app.contexts import active_app
from app.db import get_session
from app.errors import BadRequestError, MethodNotAllowedError
from app.hot_path import HotRequest
from app.page_memo import RenderMemo
from app.reports.service import ReportView
from app.reports.settings import ReportSettings, load_settings
from app.tenants.snapshot import TenantSnapshot
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

#: The macro's iframe URL (the descriptor's ``dynamicContentMacros`` entry).
PATH: Final = "/macros/freshness"


def memo() -> RenderMemo:
    """This app's memo of rendered macro pages (one per app and process)."""
    found: RenderMemo = active_app().extensions["macro_render_memo"]
    return found


@bp.route(PATH, methods=ANY_METHOD, provide_automatic_options=False)
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
        return _report_page(
            tenant, g.get("account_id"), params, settings, view, request.script_root, hot_path.in_this_request
        )
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


def warm_freshness(hot: HotRequest) -> bytes | None:
    """:func:`freshness`'s page for a warm load (``app/hot_path.py``): a fresh report whose view is
    already noted; None, before any effect, for everything else (the view answers it)."""
    tenant = hot.tenant
    session = get_session()
    settings = load_settings(session, tenant.client_key, recent_ok=True)
    try:
        params = MacroParams.parse(hot.args, settings)
    except BadRequestError:
        return None
    if settings.excludes(params.scope.space_key):
        return None
    view = report_service().fresh_view(session, tenant.client_key, params.scope)
    if view is None:
        return None
    return _report_page(
        tenant, hot.account_id, params, settings, view, hot.script_root, hot.in_request_context
    )


def _report_page(
    tenant: TenantSnapshot,
    account_id: str | None,
    params: MacroParams,
    settings: ReportSettings,
    view: ReportView,
    script_root: str,
    in_request_context: Callable[[Callable[[], str]], str],
) -> bytes:
    """The report page for this viewer (UTF-8): memoised without its per-request values, put in after.

    ``in_request_context`` runs the render on a memo miss (it needs a request context).
    """
    scope = params.scope
    report, refresh = view.report, view.job
    assert report is not None
    token = scope_token_for(tenant, scope)
    rows = visible_rows(tenant, account_id, scope, report, page_size=params.rows)

    def render() -> str:
        context = report_context(
            tenant,
            account_id,
            scope,
            report,
            page_size=params.rows,
            refresh=refresh,
            scope_token=render_memo.SCOPE_TOKEN,
            rows=rows,
        )
        context["computed_ago"] = render_memo.COMPUTED_AGO
        return render_template("macro/freshness.html", **context)

    key = page_memo_key(tenant, report, settings, scope, params.rows, refresh, rows, script_root)
    page = memo().get_or_render(key, lambda: in_request_context(render))
    return render_memo.fill(page, scope_token=token, computed_ago=elapsed(report.computed_at, rows.now))


def init_app(app: Flask) -> None:
    """Let the hot path answer warm loads of the macro."""
    hot_path.route(app, PATH, warm_freshness)
