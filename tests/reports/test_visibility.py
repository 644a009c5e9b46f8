"""Viewers' answers and the slices worked out from them (``app/reports/visibility.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.reports.model import FreshnessReport, ReportItem, ReportScope
from app.reports.visibility import VIEW_TTL_SECONDS, ViewerCheckFailed, Visibility

SCOPE = ReportScope(space_key="DOCS", content_type="pages", root_page_id=None, stale_days=30)
COMPUTED = datetime(2026, 11, 1, tzinfo=UTC)


def report(computed_at: datetime = COMPUTED, count: int = 10) -> FreshnessReport:
    items = [
        ReportItem(
            id=str(n),
            title=f"Page {n}",
            webui=f"/pages/{n}",
            updated_at=COMPUTED - timedelta(days=100 - n),
            version=1,
            editor="acct",
        )
        for n in range(count)
    ]
    return FreshnessReport(
        scope=SCOPE, space_name="Docs", computed_at=computed_at, scanned=count, stale=count, items=items
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Asker:
    """Confluence as the viewer: may read the even ids; counts the questions."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self, ids: list[str]) -> set[str]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("Confluence is down")
        return {i for i in ids if int(i) % 2 == 0}


def test_a_slice_is_worked_out_once_per_viewer_and_version() -> None:
    visibility, ask = Visibility(), Asker()
    first = visibility.visible("site", "una", report(), ask, offset=0, limit=3, max_calls=1)
    again = visibility.visible("site", "una", report(), ask, offset=0, limit=3, max_calls=1)
    assert [item.id for item in first.items] == ["0", "2", "4"] and first.more
    assert again == first and ask.calls == 1
    visibility.visible("site", "ada", report(), ask, offset=0, limit=3, max_calls=1)
    assert ask.calls == 2  # another viewer is asked about separately
    newer = visibility.visible("site", "una", report(COMPUTED + timedelta(seconds=1)), ask, offset=0, limit=3)
    assert ask.calls == 3 and [item.id for item in newer.items] == ["0", "2", "4"]  # a new version


def test_a_slice_lasts_no_longer_than_the_answer_it_rests_on() -> None:
    clock, ask = Clock(), Asker()
    visibility = Visibility(clock=clock)
    visibility.visible("site", "una", report(), ask, offset=0, limit=3)  # the answer, at 1000
    clock.now += VIEW_TTL_SECONDS - 10
    visibility.visible("site", "una", report(), ask, offset=3, limit=3)  # a slice made at 1050
    assert ask.calls == 1
    clock.now += 11  # the answer is 61 s old: the slice made from it 10 s ago goes with it
    visibility.visible("site", "una", report(), ask, offset=3, limit=3)
    assert ask.calls == 2


def test_a_failed_check_is_not_kept() -> None:
    visibility, ask = Visibility(), Asker()
    ask.fail = True
    with pytest.raises(ViewerCheckFailed):
        visibility.visible("site", "una", report(), ask, offset=0, limit=3)
    ask.fail = False
    shown = visibility.visible("site", "una", report(), ask, offset=0, limit=3)
    assert ask.calls == 2 and len(shown.items) == 3


class NameLookup:
    """Confluence's users-bulk as the app: every account has a name; counts the questions."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, account_ids: list[str]) -> dict[str, str]:
        self.asked.append(list(account_ids))
        return {account_id: f"Name of {account_id}" for account_id in account_ids}


def test_a_pages_names_are_asked_for_once_then_kept() -> None:
    clock, lookup = Clock(), NameLookup()
    visibility = Visibility(names_ttl=100, clock=clock)
    editors = ["a", "b", None, "a"]
    first = visibility.names("site", editors, lookup)
    assert first == {"a": "Name of a", "b": "Name of b"}
    for _ in range(3):
        assert visibility.names("site", editors, lookup) == first
    assert lookup.asked == [["a", "b"]]
    assert visibility.names("other-site", editors, lookup) == first  # another tenant asks for its own
    assert lookup.asked == [["a", "b"], ["a", "b"]]


def test_a_pages_names_last_no_longer_than_the_oldest_of_them() -> None:
    clock, lookup = Clock(), NameLookup()
    visibility = Visibility(names_ttl=100, clock=clock)
    visibility.names("site", ["a"], lookup)  # a asked for at 1000: good until 1100
    clock.now = 1050
    visibility.names("site", ["a", "b"], lookup)  # b asked for at 1050
    clock.now = 1060
    visibility.names("site", ["a", "b"], lookup)  # both known: the page's names are kept
    assert lookup.asked == [["a"], ["b"]]
    clock.now = 1099
    visibility.names("site", ["a", "b"], lookup)
    assert lookup.asked == [["a"], ["b"]]
    clock.now = 1100  # a's name has expired: the page's kept names must not outlive it
    assert visibility.names("site", ["a", "b"], lookup) == {"a": "Name of a", "b": "Name of b"}
    assert lookup.asked == [["a"], ["b"], ["a"]]


def test_forgotten_names_are_asked_for_again_even_on_a_kept_page() -> None:
    clock, lookup = Clock(), NameLookup()
    visibility = Visibility(names_ttl=100, clock=clock)
    for _ in range(2):
        visibility.names("site", ["a", "b"], lookup)
    visibility.forget_names("site", ["a"])  # the personal data API: a's account was closed
    visibility.names("site", ["a", "b"], lookup)
    assert lookup.asked == [["a", "b"], ["a"]]


def test_changing_the_returned_names_changes_nothing_kept() -> None:
    clock, lookup = Clock(), NameLookup()
    visibility = Visibility(names_ttl=100, clock=clock)
    for _ in range(3):
        names = visibility.names("site", ["a"], lookup)
        assert names == {"a": "Name of a"}
        names["a"] = "Mallory"
