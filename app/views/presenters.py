"""Turn report data into what templates and JSON show: links, relative ages, row data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.reports.model import ReportItem
from app.tenants.snapshot import TenantSnapshot


def page_link(tenant: TenantSnapshot, item: ReportItem) -> str | None:
    """The browser link of an item: the site's display URL (custom domain or not) + its ``webui``."""
    if not item.webui or not item.webui.startswith("/"):
        return None
    return (tenant.display_url or tenant.base_url).rstrip("/") + item.webui


def relative_age(then: datetime, now: datetime) -> str:
    """'today', '3 days ago', '5 months ago', '2 years ago'."""
    days = max(0, (now - then).days)
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


def elapsed(then: datetime, now: datetime) -> str:
    """'just now', '12 min ago', '3 h ago': how old a computed report is."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


#: The editor column when the name is not known (no editor, or Confluence could not say).
UNKNOWN_EDITOR = "Unknown"


def item_view(
    tenant: TenantSnapshot,
    item: ReportItem,
    now: datetime,
    stale_days: int,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One table row, as plain data (escaped by Jinja or set as text by our JS); editors by name."""
    return {
        "id": item.id,
        "title": item.title,
        "url": page_link(tenant, item),
        "updatedAt": item.updated_at.isoformat(),
        "updatedDate": item.updated_at.strftime("%Y-%m-%d"),
        "updatedAgo": relative_age(item.updated_at, now),
        "ageDays": max(0, (now - item.updated_at).days),
        "stale": (now - item.updated_at).days > stale_days,
        "version": item.version,
        "editor": (names or {}).get(item.editor or "", UNKNOWN_EDITOR),
    }
