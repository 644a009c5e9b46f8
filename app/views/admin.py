"""The admin configuration page (an ``adminPages`` module): settings and installation health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from flask import Blueprint, Flask, current_app, g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app import hot_path
from app.connect.auth import ANY_METHOD, require_jwt
from app.contexts import active_app
from app.db import get_session
from app.errors import MethodNotAllowedError
from app.hot_path import HotRequest
from app.jobs.queue import depth, get_queue
from app.local_copies import read_through
from app.page_memo import RenderMemo
from app.reports.jobs import ScanJobs
from app.reports.settings import load_settings
from app.tenants.health import load_health
from app.tenants.snapshot import TenantSnapshot
from app.views.authorization import is_known_site_admin, require_site_admin
from app.views.tenant_client import now_utc

bp = Blueprint("admin", __name__)

#: The admin page's iframe URL (the descriptor's ``adminPages`` entry).
PATH: Final = "/admin/freshness"


@bp.route(PATH, methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt()
def settings_page() -> ResponseReturnValue:
    """Render the settings form and the health panel, for site administrators only."""
    if request.method not in {"GET", "HEAD"}:
        raise MethodNotAllowedError("The admin page is loaded with GET.", allowed=("GET", "HEAD"))
    require_site_admin()
    return _page(g.tenant, request.script_root, hot_path.in_this_request)


def warm_settings_page(hot: HotRequest) -> bytes | None:
    """:func:`settings_page` for a warm load (``app/hot_path.py``): a viewer this process already
    knows administers the site; None for everyone else (the view asks Confluence, or refuses)."""
    if not hot.account_id or not is_known_site_admin(hot.tenant.client_key, hot.account_id):
        return None
    return _page(hot.tenant, hot.script_root, hot.in_request_context)


def _page(
    tenant: TenantSnapshot, script_root: str, in_request_context: Callable[[Callable[[], str]], str]
) -> bytes:
    """The page (UTF-8), from the memo when everything it shows is the same (it holds no per-request
    value)."""
    session = get_session()
    health = load_health(session, tenant.client_key, recent_ok=True)
    scans, queue_depth = _job_status(tenant.client_key)
    settings = load_settings(session, tenant.client_key, recent_ok=True)
    rate_limit_hits = health.recent_rate_limit_hits(now_utc())

    def render() -> str:
        return render_template(
            "admin/freshness.html",
            settings=settings,
            health=health,
            rate_limit_hits=rate_limit_hits,
            scans=scans,
            queue_depth=queue_depth,
            save_url=url_for("api.admin_settings"),
        )

    key = (
        tenant.client_key,
        tenant.site_name,
        tenant.installed_at,
        script_root,
        settings,
        health,
        tuple(rate_limit_hits),
        tuple(sorted(scans.items())),
        tuple(sorted(queue_depth.items())) if queue_depth is not None else None,
    )
    memo: RenderMemo = active_app().extensions["admin_render_memo"]
    return memo.get_or_render(key, lambda: in_request_context(render))


def init_app(app: Flask) -> None:
    """The page's memo, and the hot path for warm loads of it."""
    app.extensions["admin_render_memo"] = RenderMemo()
    hot_path.route(app, PATH, warm_settings_page)


JobStatus = tuple[dict[str, int], dict[str, int] | None]


def _job_status(client_key: str) -> JobStatus:
    """The tenant's scan counts and the queue's depth, as read at most ``APP_HOT_CACHE_SECONDS`` ago."""
    session = get_session()

    def read() -> JobStatus:
        try:
            queue_depth: dict[str, int] | None = depth(get_queue(active_app()))
        except Exception:  # the queue's storage is down: say so, the page still works
            current_app.logger.warning("could not read the job queue's depth", exc_info=True)
            queue_depth = None
        return ScanJobs(session).counts(client_key), queue_depth

    return read_through(session, "admin_job_status", client_key, read, recent_ok=True)
