"""Scanning and summarising: counts, the bounded stalest-first list, root-page scopes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.confluence.pagination import ResultPage
from app.errors import ConfluenceNotFoundError
from app.reports.model import FreshnessReport, ReportItem, ReportScope
from app.reports.scan import ScanState, _descendants_of, scan, summarise, to_item

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def raw(page_id: int, days_old: int, parent: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(page_id),
        "title": f"Page {page_id}",
        "parentId": str(parent) if parent is not None else None,
        "version": {
            "createdAt": (NOW - timedelta(days=days_old)).isoformat().replace("+00:00", "Z"),
            "number": 3,
            "authorId": "557058:abc",
        },
        "_links": {"webui": f"/spaces/DOCS/pages/{page_id}"},
        **extra,
    }


def items(*ages: int) -> list[ReportItem]:
    return [item for item in (to_item(raw(i, age)) for i, age in enumerate(ages, start=1)) if item]


def test_counts_stale_items_strictly_older_than_the_threshold() -> None:
    report = summarise(items(10, 89, 91, 400, 2000), ReportScope("DOCS", stale_days=90), NOW)
    assert (report.scanned, report.stale, report.fresh) == (5, 3, 2)
    assert report.fresh_share == pytest.approx(0.4)


def test_items_are_stalest_first_and_bounded() -> None:
    ages = list(range(0, 1000, 7))
    report = summarise(items(*ages), ReportScope("DOCS"), NOW, keep=10)
    kept_ages = [(NOW - item.updated_at).days for item in report.items]
    assert kept_ages == sorted(ages, reverse=True)[:10]
    assert report.oldest is report.items[0]
    assert report.scanned == len(ages)


def test_empty_scope_has_no_share_and_no_oldest() -> None:
    report = summarise([], ReportScope("DOCS"), NOW)
    assert report.scanned == 0 and report.fresh_share is None and report.oldest is None


def test_item_without_a_date_is_skipped_and_odd_fields_are_tolerated() -> None:
    assert to_item({"id": "1", "title": "x"}) is None
    item = to_item(
        {"id": 7, "title": None, "createdAt": "2020-01-01T00:00:00Z", "version": "junk", "_links": []}
    )
    assert item is not None
    assert (item.id, item.title, item.webui, item.version, item.editor) == (
        "7",
        "(untitled)",
        None,
        None,
        None,
    )


def test_descendants_of_a_root_page_only() -> None:
    pages = [
        raw(1, 5),
        raw(2, 5, parent=1),
        raw(3, 5, parent=2),
        raw(4, 5),
        raw(5, 5, parent=4),
        raw(6, 5, parent=3),
    ]
    assert sorted(item.id for item in _descendants_of("2", pages)) == ["3", "6"]
    assert sorted(item.id for item in _descendants_of("1", pages)) == ["2", "3", "6"]


def test_a_parent_cycle_does_not_hang() -> None:
    pages = [raw(1, 5, parent=2), raw(2, 5, parent=1), raw(3, 5)]
    assert list(_descendants_of("3", pages)) == []


def test_unknown_root_page_is_not_found() -> None:
    with pytest.raises(ConfluenceNotFoundError, match="No page 99"):
        list(_descendants_of("99", [raw(1, 5)]))


def test_report_round_trips_through_json() -> None:
    report = summarise(
        items(5, 500), ReportScope("DOCS", root_page_id="12", stale_days=30), NOW, space_name="Docs"
    )
    assert FreshnessReport.from_json(report.to_json()) == report


def test_cache_key_names_every_part_of_the_scope() -> None:
    keys = {
        ReportScope("DOCS").cache_key,
        ReportScope("DOCS", stale_days=30).cache_key,
        ReportScope("DOCS", root_page_id="5").cache_key,
        ReportScope("DOCS", content_type="blogposts").cache_key,
        ReportScope("ENG").cache_key,
    }
    assert len(keys) == 5
    assert ReportScope("docs").cache_key == ReportScope("DOCS").cache_key


class FakeClient:
    """Just enough of ConfluenceClient for scan(): one space, pages filtered by status as v2 does."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.statuses: list[list[str]] = []

    def iter_spaces(self, *, keys: list[str]) -> Iterator[dict[str, Any]]:
        yield {"id": "9", "key": "DOCS", "name": "Docs"}

    def iter_pages_of(
        self, path: str, params: dict[str, str], *, resume_url: str | None = None
    ) -> Iterator[ResultPage]:
        status = params["status"].split(",")
        self.statuses.append(status)
        yield ResultPage([page for page in self.pages if page["status"] in status], None)


def test_root_scope_follows_current_pages_under_an_archived_parent() -> None:
    # A page can stay current when its parent is archived; it is still under the root.
    pages = [
        raw(1, 5, status="current"),
        raw(2, 500, parent=1, status="archived"),
        raw(3, 400, parent=2, status="current"),
        raw(4, 5, parent=1, status="current"),
    ]
    client = FakeClient(pages)
    report = scan(client, ReportScope("DOCS", root_page_id="1"), NOW)  # type: ignore[arg-type]
    assert sorted(item.id for item in report.items) == ["3", "4"]  # not the archived page itself
    assert report.scanned == 2 and report.stale == 1


def test_space_scope_reads_current_pages_only() -> None:
    client = FakeClient([raw(1, 5, status="current"), raw(2, 500, status="archived")])
    report = scan(client, ReportScope("DOCS"), NOW)  # type: ignore[arg-type]
    assert [item.id for item in report.items] == ["1"] and client.statuses == [["current"]]


def test_a_scan_state_survives_a_checkpoint_round_trip_midway() -> None:
    pages = [raw(i, i * 10, parent=1 if i > 1 else None, status="current") for i in range(1, 40)]
    whole = scan(FakeClient(pages), ReportScope("DOCS", root_page_id="1"), NOW)  # type: ignore[arg-type]
    state = ScanState(ReportScope("DOCS", root_page_id="1"), NOW)
    state.space_id, state.space_name = "9", "Docs"
    state.add(ResultPage(pages[:20], "https://x/wiki/api/v2/next?cursor=a"))
    restored = ScanState.from_json(ReportScope("DOCS", root_page_id="1"), state.to_json())
    restored.add(ResultPage(pages[20:], None))
    assert restored.finish() == whole and restored.pages_read == 2 and restored.items_read == 39
