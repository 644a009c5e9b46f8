"""Jobs that rewrite cached reports: a webhook job applying a change to every report of a tenant, and
the personal-data eraser, each when another writer replaces a report between its read and its
write; and what a webhook job asks Confluence."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.reports.cache import CachedReport, ReportCache
from app.reports.model import FreshnessReport, ReportItem, ReportScope
from app.reports.webhook_updates import ConfluenceFacts, ContentChange, ContentState, handle_change
from tests.kit.database import session_factory_with_tenants

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCOPES = (ReportScope("DOCS"), ReportScope("DOCS", stale_days=30))
BASE_URL = "https://t1.atlassian.net/wiki"


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    factory = session_factory_with_tenants(tmp_path, ("t1",))
    yield factory
    factory.kw["bind"].dispose()


def item(title: str) -> ReportItem:
    return ReportItem("7", title, "/spaces/DOCS/pages/7", T0 - timedelta(days=200), 1, None)


def no_confluence() -> Any:
    raise AssertionError("a listed page updated in place needs no question to Confluence")


def page_7_change(event: str, title: str, version: int, *, link: str | None = None) -> ContentChange:
    """A webhook change of page 7 in DOCS at T0, as handle_change receives it."""
    return ContentChange(
        event=event,
        content_id="7",
        content_type="pages",
        space_key="DOCS",
        title=title,
        version=version,
        updated_at=T0,
        created_at=None,
        editor=None,
        link=link,
        at_ms=int(T0.timestamp() * 1000),
    )


def test_a_version_conflict_on_one_report_loses_neither_the_claim_nor_the_others(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as session:
        for scope in SCOPES:
            report = FreshnessReport(scope, T0, scanned=1, stale=1, items=[item("Old title")])
            ReportCache(session).put("t1", report, now=T0, ttl=timedelta(hours=1))
    # The second report read is answered with an older version than the row holds, once: as if
    # another process had replaced the row between this job's read and its write.
    real_get = ReportCache.get
    seen: list[str] = []

    def get(self: ReportCache, client_key: str, scope_key: str, **kwargs: Any) -> CachedReport | None:
        cached = real_get(self, client_key, scope_key, **kwargs)
        if cached is not None and scope_key not in seen:
            seen.append(scope_key)
            if len(seen) == 2:
                stale = dataclasses.replace(cached.report, computed_at=T0 - timedelta(minutes=5))
                return dataclasses.replace(cached, report=stale)
        return cached

    monkeypatch.setattr(ReportCache, "get", get)
    change = page_7_change("page_updated", "New title", 2, link=f"{BASE_URL}/spaces/DOCS/pages/7")
    with sessions() as session:
        done = handle_change(
            session, "t1", change, base_url=BASE_URL, facts=ConfluenceFacts(no_confluence), now=T0
        )
    assert done is not None and done["updated"] == 2 and done["expired"] == 0
    monkeypatch.setattr(ReportCache, "get", real_get)
    with sessions() as session:
        claim = session.get(ContentState, ("t1", "7"))
        assert claim is not None and claim.version == 2  # the change is recorded as applied
        for scope in SCOPES:
            cached = ReportCache(session).get("t1", scope.cache_key)
            assert cached is not None and [i.title for i in cached.report.items] == ["New title"]


def test_erasing_a_closed_account_never_overwrites_a_report_another_writer_just_replaced(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The personal-data eraser reads a report, another writer (a webhook update) replaces it, then the
    eraser writes: the other writer's version must survive, with the closed account erased from it."""
    from sqlalchemy.orm import Session as OrmSession

    from app.reports import privacy
    from app.reports.visibility import ERASED_ACCOUNT

    closed = "557058:closed-account"
    scope = SCOPES[0]
    older = dataclasses.replace(item("Old title"), editor=closed)
    with sessions() as session:
        report = FreshnessReport(scope, T0, scanned=1, stale=1, items=[older])
        ReportCache(session).put("t1", report, now=T0, ttl=timedelta(hours=1))

    newer = FreshnessReport(
        scope, T0 + timedelta(minutes=1), scanned=1, stale=1, items=[dataclasses.replace(older, title="New")]
    )
    real_execute = OrmSession.execute
    replaced: list[bool] = []

    def execute(self: OrmSession, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if not replaced and getattr(statement, "is_update", False) and statement.table.name == "report_cache":
            replaced.append(True)  # just before the eraser's first write: the other writer commits
            with sessions() as other:
                ReportCache(other).put("t1", newer, now=newer.computed_at, ttl=timedelta(hours=1))
        return real_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(OrmSession, "execute", execute)
    with sessions() as session:
        assert privacy.erase_accounts(session, "t1", {closed}, T0 + timedelta(minutes=2)) >= 1
    monkeypatch.setattr(OrmSession, "execute", real_execute)
    assert replaced == [True]
    with sessions() as session:
        cached = ReportCache(session).get("t1", scope.cache_key)
        assert cached is not None
        assert [(i.title, i.editor) for i in cached.report.items] == [("New", ERASED_ACCOUNT)]


def test_a_moved_page_costs_no_confluence_call_when_no_page_report_needs_the_answer(
    sessions: sessionmaker[Session],
) -> None:
    asked: list[str] = []

    def client() -> Any:
        asked.append("client")
        raise RuntimeError("no Confluence here")

    blogs = ReportScope("DOCS", content_type="blogposts")
    with sessions() as session:
        report = FreshnessReport(blogs, T0, scanned=0, stale=0, items=[])
        ReportCache(session).put("t1", report, now=T0, ttl=timedelta(hours=1))
    moved = page_7_change("page_moved", "Moved", 3)
    with sessions() as session:
        done = handle_change(session, "t1", moved, base_url=BASE_URL, facts=ConfluenceFacts(client), now=T0)
    assert done is not None and done["updated"] == 0 and done["expired"] == 0
    assert asked == []
