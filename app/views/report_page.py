"""The report part of the macro, shared by the macro page and the scan-status endpoint.

The macro page renders it inline; when the first scan of a scope ends while a viewer waits, the
status endpoint renders the same fragment and the page's script swaps it in without a reload.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for

from app.connect.auth import now_seconds
from app.reports.jobs import JobView
from app.reports.model import FreshnessReport, ReportScope
from app.tenants.models import Tenant
from app.views.presenters import elapsed, item_view
from app.views.scope_tokens import sign_scope
from app.views.tenant_client import now_utc


def scope_token_for(tenant: Tenant, scope: ReportScope) -> str:
    """The signed scope the page's script sends back (Show more, scan status)."""
    return sign_scope(scope, client_key=tenant.client_key, secret=tenant.shared_secret, now=now_seconds())


def report_context(
    tenant: Tenant,
    scope: ReportScope,
    report: FreshnessReport,
    *,
    page_size: int,
    refresh: JobView | None,
    scope_token: str,
) -> dict[str, Any]:
    """Everything ``macro/_report.html`` shows."""
    now = now_utc()
    rows = [item_view(tenant, item, now, scope.stale_days) for item in report.items[:page_size]]
    oldest = report.oldest
    return {
        "report": report,
        "scope": scope,
        "rows": rows,
        "page_size": page_size,
        "more": len(report.items) > page_size,
        "oldest": item_view(tenant, oldest, now, scope.stale_days) if oldest else None,
        "refresh": refresh,
        "computed_ago": elapsed(report.computed_at, now),
        "items_url": url_for("api.freshness_items"),
        "scope_token": scope_token,
    }


def render_report_fragment(**context: Any) -> str:
    return render_template("macro/_report.html", **context)


def progress_json(job: JobView | None) -> dict[str, Any]:
    """A scan's progress as the page's script reads it."""
    if job is None:
        return {"state": "queued", "itemsRead": 0, "total": None, "percent": None, "message": None}
    return {
        "state": job.state,
        "itemsRead": job.items_read,
        "total": job.total_hint,
        "percent": job.percent,
        "message": job.message,
    }
