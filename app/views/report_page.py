"""The report part of the macro, shared by the macro page and the scan-status endpoint.

The macro page renders it inline; when the first scan of a scope ends while a viewer waits, the
status endpoint renders the same fragment and the page's script swaps it in without a reload.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from flask import current_app, render_template, url_for

from app.connect.auth import now_seconds
from app.errors import ConfluenceError
from app.observability.logs import tenant_tag
from app.reports.jobs import JobView
from app.reports.model import FreshnessReport, ReportItem, ReportScope
from app.reports.visibility import ViewerCheckFailed, VisibleSlice
from app.tenants.snapshot import TenantSnapshot
from app.views.presenters import UNKNOWN_EDITOR, elapsed, item_view
from app.views.scope_tokens import sign_scope
from app.views.tenant_client import display_names, now_utc, readable_ids, visibility


def scope_token_for(tenant: TenantSnapshot, scope: ReportScope) -> str:
    """The signed scope the page's script sends back (Show more, scan status)."""
    return sign_scope(scope, client_key=tenant.client_key, secret=tenant.shared_secret, now=now_seconds())


#: Shown instead of the rows when the viewer's access could not be confirmed.
WITHHELD_NO_VIEWER: Final = "Sign in to Confluence to see which pages these are."
WITHHELD_NO_ANSWER: Final = (
    "We could not check which of these pages you may open, so the list is hidden. "
    "Reload the page in a minute."
)


def viewer_rows(
    tenant: TenantSnapshot,
    account_id: str | None,
    scope: ReportScope,
    report: FreshnessReport,
    *,
    offset: int,
    limit: int,
    max_calls: int | None = None,
) -> VisibleSlice:
    """The rows ``account_id`` may see (raises ViewerCheckFailed: the caller withholds the rows)."""

    def readable(ids: list[str]) -> set[str]:
        assert account_id is not None  # visible() refuses an anonymous viewer before asking
        return readable_ids(tenant, account_id, scope.content_type)(ids)

    return visibility().visible(
        tenant.client_key, account_id, report, readable, offset=offset, limit=limit, max_calls=max_calls
    )


def editor_names(tenant: TenantSnapshot, items: list[ReportItem]) -> dict[str, str]:
    """Display names of the rows' editors; empty (names unknown) if Confluence cannot say."""
    try:
        return visibility().names(tenant.client_key, [item.editor for item in items], display_names(tenant))
    except ConfluenceError as exc:
        current_app.logger.warning(
            "could not resolve editors' names for %s: %s", tenant_tag(tenant.client_key), exc.message
        )
        return {}


def rows_json(tenant: TenantSnapshot, items: list[ReportItem], stale_days: int) -> list[dict[str, Any]]:
    """Rows as plain data, editors by name."""
    now = now_utc()
    names = editor_names(tenant, items)
    return [item_view(tenant, item, now, stale_days, names) for item in items]


@dataclass(frozen=True)
class VisibleRows:
    """The rows one viewer may see on a report's first page, before they are turned into row data."""

    items: tuple[ReportItem, ...]
    names: Mapping[str, str]
    more: bool
    withheld: str | None
    now: datetime

    def memo_key(self) -> tuple[tuple[str, int, str], ...]:
        """The rows as a page of one report version shows them: each item's id, its age in days and
        its editor's name.

        An item's content is fixed by its id within a report version (every change to a report
        makes a new ``computed_at``, which the page key holds): ids stand in for the items, whose
        own hashes (every field, in Python) cost more than the rest of the key.
        """
        unknown = UNKNOWN_EDITOR
        now, names = self.now, self.names
        return tuple(
            [
                (item.id, (now - item.updated_at).days, names.get(item.editor or "", unknown))
                for item in self.items
            ]
        )


def visible_rows(
    tenant: TenantSnapshot,
    account_id: str | None,
    scope: ReportScope,
    report: FreshnessReport,
    *,
    page_size: int,
) -> VisibleRows:
    """The first page of rows ``account_id`` may see, with their editors' names.

    The first rows are confirmed with one call as the viewer (the 250 stalest items); if fewer than a
    page of them are readable, "Show more" finds the rest. Names take at most one more call.
    """
    now = now_utc()
    withheld: str | None = None
    try:
        shown = viewer_rows(tenant, account_id, scope, report, offset=0, limit=page_size, max_calls=1)
    except ViewerCheckFailed as exc:
        current_app.logger.warning("rows withheld for a viewer of %s: %s", tenant_tag(tenant.client_key), exc)
        shown = VisibleSlice([], False)
        withheld = WITHHELD_NO_VIEWER if not account_id else WITHHELD_NO_ANSWER
    names = editor_names(tenant, shown.items)
    return VisibleRows(tuple(shown.items), names, shown.more, withheld, now)


def report_context(
    tenant: TenantSnapshot,
    account_id: str | None,
    scope: ReportScope,
    report: FreshnessReport,
    *,
    page_size: int,
    refresh: JobView | None,
    scope_token: str,
    rows: VisibleRows | None = None,
) -> dict[str, Any]:
    """Everything ``macro/_report.html`` shows, for this viewer (``rows``: already looked up)."""
    if rows is None:
        rows = visible_rows(tenant, account_id, scope, report, page_size=page_size)
    data = [item_view(tenant, item, rows.now, scope.stale_days, rows.names) for item in rows.items]
    return {
        "report": report,
        "scope": scope,
        "rows": data,
        "withheld": rows.withheld,
        "page_size": page_size,
        "more": rows.more,
        "oldest": data[0] if data else None,
        "refresh": refresh,
        "computed_ago": elapsed(report.computed_at, rows.now),
        "items_url": url_for("api.freshness_items"),
        "scope_token": scope_token,
    }


def page_memo_key(
    tenant: TenantSnapshot,
    report: FreshnessReport,
    settings: Hashable,
    scope: ReportScope,
    page_size: int,
    refresh: JobView | None,
    rows: VisibleRows,
    script_root: str,
) -> Hashable:
    """Everything a macro page built from ``report_context`` shows, but the per-request values.

    The scope token and "computed … ago" are left out: the memoised page holds placeholders for them
    (``render_memo``). The rows are in as :meth:`VisibleRows.memo_key` gives them (each item's id
    within this report version, its age in days, its editor's name), so the key changes with the
    viewer's visible rows, their names and the day; the prefix the app is
    served under (``script_root``) is in too (the page's URLs). Nothing here needs the rows' data
    built: a memo hit costs no row formatting.
    """
    return (
        tenant.client_key,
        tenant.base_url,
        tenant.display_url,
        script_root,
        scope,
        report.computed_at,
        (report.space_name, report.scanned, report.stale),
        settings,
        page_size,
        rows.more,
        rows.withheld,
        (refresh.in_progress, refresh.state, refresh.message) if refresh is not None else None,
        rows.memo_key(),
    )


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
