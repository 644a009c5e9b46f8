"""Scan a scope through the REST client and summarise it, one page of results in memory at a time.

Only the ``MAX_ITEMS`` stalest items are kept (a bounded heap), so a space of 100,000 pages costs
the same memory as one of 1,000. A root-page scope needs the page tree, so it keeps one small tuple
per page (id, parent, time) and resolves descendants at the end.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from app.confluence.client import ConfluenceClient
from app.errors import ConfluenceBadResponseError, ConfluenceNotFoundError
from app.reports.model import FreshnessReport, ReportItem, ReportScope

#: How many of the stalest items a report keeps (what "Show more" can reach).
MAX_ITEMS: Final = 500


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def to_item(raw: dict[str, Any]) -> ReportItem | None:
    """Read the fields the report needs from a v2 page or blog post; None if it has no usable date."""
    version: dict[str, Any] = raw["version"] if isinstance(raw.get("version"), dict) else {}
    updated = _parse_time(version.get("createdAt")) or _parse_time(raw.get("createdAt"))
    if updated is None or raw.get("id") is None:
        return None
    links: dict[str, Any] = raw["_links"] if isinstance(raw.get("_links"), dict) else {}
    number = version.get("number")
    editor = version.get("authorId") or raw.get("authorId")
    return ReportItem(
        id=str(raw["id"]),
        title=str(raw.get("title") or "(untitled)"),
        webui=links.get("webui") if isinstance(links.get("webui"), str) else None,
        updated_at=updated,
        version=number if isinstance(number, int) and not isinstance(number, bool) else None,
        editor=editor if isinstance(editor, str) else None,
    )


def summarise(
    items: Iterable[ReportItem],
    scope: ReportScope,
    now: datetime,
    *,
    space_name: str | None = None,
    keep: int = MAX_ITEMS,
) -> FreshnessReport:
    """Count stale items and keep the ``keep`` stalest, consuming ``items`` once."""
    threshold = now - timedelta(days=scope.stale_days)
    scanned = stale = 0
    heap: list[tuple[float, str, ReportItem]] = []  # min-heap on -age: the freshest kept item on top
    for item in items:
        scanned += 1
        if item.updated_at < threshold:
            stale += 1
        entry = (-item.updated_at.timestamp(), item.id, item)
        if len(heap) < keep:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)
    stalest = [item for _, _, item in sorted(heap, key=lambda e: (e[2].updated_at, e[1]))]
    return FreshnessReport(
        scope=scope, computed_at=now, scanned=scanned, stale=stale, items=stalest, space_name=space_name
    )


def _descendants_of(root_id: str, raws: Iterable[dict[str, Any]]) -> Iterator[ReportItem]:
    """Yield the *current* descendants of ``root_id``; other statuses only link the tree."""
    parents: dict[str, str | None] = {}
    items: dict[str, ReportItem] = {}
    current: set[str] = set()
    for raw in map(_checked_raw, raws):
        item = to_item(raw)
        if item is None:
            continue
        parent = raw.get("parentId")
        parents[item.id] = str(parent) if parent is not None else None
        items[item.id] = item
        if raw.get("status", "current") == "current":
            current.add(item.id)
    if root_id not in items:
        raise ConfluenceNotFoundError(f"No page {root_id} in this space.")
    under: dict[str, bool] = {root_id: True}

    def is_under(page_id: str) -> bool:
        chain: list[str] = []
        current: str | None = page_id
        while current is not None and current not in under and len(chain) <= len(parents):
            chain.append(current)
            current = parents.get(current)
        result = under.get(current, False) if current is not None else False
        for node in chain:
            under[node] = result
        return result

    for page_id, item in items.items():
        if page_id != root_id and page_id in current and is_under(page_id):
            yield item


def scan(client: ConfluenceClient, scope: ReportScope, now: datetime) -> FreshnessReport:
    """Page through the whole scope and summarise it."""
    space_id: str | None = None
    space_name: str | None = None
    for space in client.iter_spaces(keys=[scope.space_key]):
        if str(space.get("key", "")).upper() == scope.space_key.upper():
            space_id, space_name = str(space["id"]), space.get("name")
            break
    if space_id is None:
        raise ConfluenceNotFoundError(f"No space with key {scope.space_key!r}.")
    if scope.content_type == "blogposts":
        raws = client.iter_space_blogposts(space_id, status=["current"])
    elif scope.root_page_id is not None:
        # A current page may sit under an archived one; archived pages keep the tree connected.
        raws = client.iter_space_pages(space_id, status=["current", "archived"])
    else:
        raws = client.iter_space_pages(space_id, status=["current"])
    if scope.root_page_id is not None:
        items: Iterable[ReportItem] = _descendants_of(scope.root_page_id, raws)
    else:
        items = (item for item in map(_checked, raws) if item is not None)
    return summarise(items, scope, now, space_name=space_name if isinstance(space_name, str) else None)


def _checked_raw(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfluenceBadResponseError("Confluence returned a list item that is not an object.")
    return raw


def _checked(raw: Any) -> ReportItem | None:
    return to_item(_checked_raw(raw))
