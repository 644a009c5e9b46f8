"""Wording of ages, and links built from the display URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.reports.model import ReportItem
from app.tenants.models import Tenant
from app.views.presenters import elapsed, page_link, relative_age

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (0, "today"),
        (1, "yesterday"),
        (59, "59 days ago"),
        (60, "2 months ago"),
        (729, "24 months ago"),
        (730, "2 years ago"),
        (-3, "today"),
    ],
)
def test_relative_age(days: int, text: str) -> None:
    assert relative_age(NOW - timedelta(days=days), NOW) == text


@pytest.mark.parametrize(("seconds", "text"), [(5, "just now"), (61, "1 min ago"), (7300, "2 h ago")])
def test_elapsed(seconds: int, text: str) -> None:
    assert elapsed(NOW - timedelta(seconds=seconds), NOW) == text


def item(webui: str | None) -> ReportItem:
    return ReportItem(id="1", title="t", webui=webui, updated_at=NOW, version=1, editor=None)


def test_links_use_the_display_url_and_refuse_absolute_webui() -> None:
    tenant = Tenant(base_url="https://acme.atlassian.net/wiki", display_url="https://docs.acme.com/wiki")
    assert page_link(tenant, item("/spaces/D/pages/1")) == "https://docs.acme.com/wiki/spaces/D/pages/1"
    assert page_link(tenant, item("https://evil.example/x")) is None
    assert page_link(tenant, item("//evil.example/x")) == "https://docs.acme.com/wiki//evil.example/x"
    assert page_link(tenant, item(None)) is None
