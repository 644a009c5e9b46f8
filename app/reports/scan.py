"""Scan a scope through the REST client and summarise it, one page of results in memory at a time.

A scan is a :class:`ScanState` fed page by page. The state is small and serialisable, so a scan
job can store it as a checkpoint (the next page's URL and the partial aggregates) and another worker
can resume it. Only the ``MAX_ITEMS`` stalest items are kept (a bounded heap), so a space of
100,000 pages costs the same memory as one of 1,000. A root-page scope needs the page tree, so it
keeps one small entry per page and resolves descendants at the end.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from app.confluence.client import ConfluenceClient
from app.confluence.pagination import ResultPage
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


class StalestItems:
    """Counts items and keeps the ``keep`` stalest (a min-heap on -age: the freshest kept on top)."""

    def __init__(self, threshold: datetime, keep: int = MAX_ITEMS) -> None:
        self.threshold = threshold
        self.keep = keep
        self.scanned = 0
        self.stale = 0
        self._heap: list[tuple[float, str, ReportItem]] = []

    def add(self, item: ReportItem) -> None:
        self.scanned += 1
        if item.updated_at < self.threshold:
            self.stale += 1
        entry = (-item.updated_at.timestamp(), item.id, item)
        if len(self._heap) < self.keep:
            heapq.heappush(self._heap, entry)
        elif entry > self._heap[0]:
            heapq.heapreplace(self._heap, entry)

    def stalest(self) -> list[ReportItem]:
        """The kept items, stalest first (ties by id)."""
        return [item for _, _, item in sorted(self._heap, key=lambda e: (e[2].updated_at, e[1]))]

    def restore(self, scanned: int, stale: int, kept: Iterable[ReportItem]) -> None:
        """Continue from a checkpoint's counts and kept items."""
        self.scanned, self.stale = scanned, stale
        self._heap = [(-item.updated_at.timestamp(), item.id, item) for item in kept]
        heapq.heapify(self._heap)


def summarise(
    items: Iterable[ReportItem],
    scope: ReportScope,
    now: datetime,
    *,
    space_name: str | None = None,
    keep: int = MAX_ITEMS,
) -> FreshnessReport:
    """Count stale items and keep the ``keep`` stalest, consuming ``items`` once."""
    counter = StalestItems(now - timedelta(days=scope.stale_days), keep)
    for item in items:
        counter.add(item)
    return FreshnessReport(
        scope=scope,
        computed_at=now,
        scanned=counter.scanned,
        stale=counter.stale,
        items=counter.stalest(),
        space_name=space_name,
    )


def _descendants_of(root_id: str, raws: Iterable[dict[str, Any]]) -> Iterator[ReportItem]:
    """Yield the *current* descendants of ``root_id``; other statuses only link the tree."""
    tree = PageTree()
    for raw in map(_checked_raw, raws):
        tree.add(raw)
    return tree.descendants(root_id)


@dataclass
class PageTree:
    """Every page of a space as (parent, current, item): enough to find a root page's descendants."""

    nodes: dict[str, tuple[str | None, bool, ReportItem]] = field(default_factory=dict)

    def add(self, raw: dict[str, Any]) -> None:
        item = to_item(raw)
        if item is None:
            return
        parent = raw.get("parentId")
        current = raw.get("status", "current") == "current"
        self.nodes[item.id] = (str(parent) if parent is not None else None, current, item)

    def descendants(self, root_id: str) -> Iterator[ReportItem]:
        """Yield the current pages under ``root_id`` (not the root itself); a cycle ends the walk."""
        if root_id not in self.nodes:
            raise ConfluenceNotFoundError(f"No page {root_id} in this space.")
        under: dict[str, bool] = {root_id: True}

        def is_under(page_id: str) -> bool:
            chain: list[str] = []
            node: str | None = page_id
            while node is not None and node not in under and len(chain) <= len(self.nodes):
                chain.append(node)
                entry = self.nodes.get(node)
                node = entry[0] if entry is not None else None
            result = under.get(node, False) if node is not None else False
            for visited in chain:
                under[visited] = result
            return result

        for page_id, (_, current, item) in self.nodes.items():
            if page_id != root_id and current and is_under(page_id):
                yield item

    def to_json(self) -> list[list[Any]]:
        return [[parent, current, item.to_json()] for parent, current, item in self.nodes.values()]

    @classmethod
    def from_json(cls, rows: list[list[Any]]) -> PageTree:
        tree = cls()
        for parent, current, item in rows:
            restored = ReportItem.from_json(item)
            tree.nodes[restored.id] = (parent, bool(current), restored)
        return tree


@dataclass
class ScanState:
    """Where a scan is: the space, the next page to read, and what the pages read so far add up to.

    ``started_at`` is the scan's reference time (what "stale" is measured from), kept across
    resumes so a scan resumed an hour later still describes one moment.
    """

    scope: ReportScope
    started_at: datetime
    space_id: str | None = None
    space_name: str | None = None
    next_url: str | None = None
    pages_read: int = 0
    items_read: int = 0
    counter: StalestItems = field(init=False)
    tree: PageTree | None = field(init=False)

    def __post_init__(self) -> None:
        self.counter = StalestItems(self.started_at - timedelta(days=self.scope.stale_days))
        self.tree = PageTree() if self.scope.root_page_id is not None else None

    # -- reading ---------------------------------------------------------------------------------

    def resolve_space(self, client: ConfluenceClient) -> None:
        """Find the space's id and name (one call); raise ConfluenceNotFoundError if there is none."""
        for space in client.iter_spaces(keys=[self.scope.space_key]):
            if str(space.get("key", "")).upper() == self.scope.space_key.upper():
                name = space.get("name")
                self.space_id, self.space_name = str(space["id"]), name if isinstance(name, str) else None
                return
        raise ConfluenceNotFoundError(f"No space with key {self.scope.space_key!r}.")

    def pages(self, client: ConfluenceClient) -> Iterator[ResultPage]:
        """The list pages still to read: from the start, or from the stored next page."""
        if self.space_id is None:
            self.resolve_space(client)
        assert self.space_id is not None
        kind = "blogposts" if self.scope.content_type == "blogposts" else "pages"
        # A current page may sit under an archived one; archived pages keep the tree connected.
        rooted = kind == "pages" and self.scope.root_page_id is not None
        status = "current,archived" if rooted else "current"
        path = f"/spaces/{self.space_id}/{kind}"
        return client.iter_pages_of(path, {"status": status}, resume_url=self.next_url)

    def add(self, page: ResultPage) -> None:
        """Take in one page of results and remember where the next one is."""
        for raw in map(_checked_raw, page.items):
            self.items_read += 1
            if self.tree is not None:
                self.tree.add(raw)
            else:
                item = to_item(raw)
                if item is not None:
                    self.counter.add(item)
        self.pages_read += 1
        self.next_url = page.next_url

    def finish(self) -> FreshnessReport:
        """The report, once every page has been read."""
        if self.tree is not None:
            assert self.scope.root_page_id is not None
            return summarise(
                self.tree.descendants(self.scope.root_page_id),
                self.scope,
                self.started_at,
                space_name=self.space_name,
            )
        return FreshnessReport(
            scope=self.scope,
            computed_at=self.started_at,
            scanned=self.counter.scanned,
            stale=self.counter.stale,
            items=self.counter.stalest(),
            space_name=self.space_name,
        )

    # -- checkpoints -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "space_id": self.space_id,
            "space_name": self.space_name,
            "next_url": self.next_url,
            "pages_read": self.pages_read,
            "items_read": self.items_read,
            "scanned": self.counter.scanned,
            "stale": self.counter.stale,
            "kept": [item.to_json() for item in self.counter.stalest()],
            "tree": self.tree.to_json() if self.tree is not None else None,
        }

    @classmethod
    def from_json(cls, scope: ReportScope, data: dict[str, Any]) -> ScanState:
        state = cls(
            scope=scope,
            started_at=datetime.fromisoformat(data["started_at"]),
            space_id=data.get("space_id"),
            space_name=data.get("space_name"),
            next_url=data.get("next_url"),
            pages_read=int(data.get("pages_read", 0)),
            items_read=int(data.get("items_read", 0)),
        )
        state.counter.restore(
            int(data.get("scanned", 0)),
            int(data.get("stale", 0)),
            (ReportItem.from_json(item) for item in data.get("kept", [])),
        )
        if state.tree is not None and data.get("tree"):
            state.tree = PageTree.from_json(data["tree"])
        return state


def scan(client: ConfluenceClient, scope: ReportScope, now: datetime) -> FreshnessReport:
    """Page through the whole scope and summarise it, in one go (jobs use :class:`ScanState`)."""
    state = ScanState(scope, now)
    for page in state.pages(client):
        state.add(page)
    return state.finish()


def _checked_raw(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfluenceBadResponseError("Confluence returned a list item that is not an object.")
    return raw
