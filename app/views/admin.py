"""The admin configuration page (an ``adminPages`` module): settings and installation health."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.connect.auth import ANY_METHOD, require_jwt
from app.db import get_session
from app.errors import MethodNotAllowedError
from app.jobs.queue import depth, get_queue
from app.local_copies import read_through
from app.reports.jobs import ScanJobs
from app.reports.settings import load_settings
from app.tenants.health import load_health
from app.views.authorization import require_site_admin
from app.views.tenant_client import now_utc

bp = Blueprint("admin", __name__)


@bp.route("/admin/freshness", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt()
def settings_page() -> ResponseReturnValue:
    """Render the settings form and the health panel, for site administrators only."""
    if request.method not in {"GET", "HEAD"}:
        raise MethodNotAllowedError("The admin page is loaded with GET.", allowed=("GET", "HEAD"))
    require_site_admin()
    session = get_session()
    tenant = g.tenant
    health = load_health(session, tenant.client_key, recent_ok=True)
    scans, queue_depth = _job_status(tenant.client_key)
    return render_template(
        "admin/freshness.html",
        settings=load_settings(session, tenant.client_key, recent_ok=True),
        health=health,
        rate_limit_hits=health.recent_rate_limit_hits(now_utc()),
        scans=scans,
        queue_depth=queue_depth,
        save_url=url_for("api.admin_settings"),
    )


JobStatus = tuple[dict[str, int], dict[str, int] | None]


def _job_status(client_key: str) -> JobStatus:
    """The tenant's scan counts and the queue's depth, as read at most ``APP_HOT_CACHE_SECONDS`` ago."""
    session = get_session()

    def read() -> JobStatus:
        try:
            queue_depth: dict[str, int] | None = depth(get_queue(current_app._get_current_object()))  # type: ignore[attr-defined]
        except Exception:  # the queue's storage is down: say so, the page still works
            current_app.logger.warning("could not read the job queue's depth", exc_info=True)
            queue_depth = None
        return ScanJobs(session).counts(client_key), queue_depth

    return read_through(session, "admin_job_status", client_key, read, recent_ok=True)
