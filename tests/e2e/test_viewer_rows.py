"""In Chromium: the same macro as Ada and then as Una, through the emulator's viewer switch.

The rows differ by exactly the pages Una may not read; the editor column shows names, never ids.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from emulator.accounts import principal_of
from tests.kit.browser import open_module, screenshot
from tests.kit.confluence import USER_ACCOUNT
from tests.kit.live_sites import MACRO_MODULE, RunningEmulator, install_app

if TYPE_CHECKING:
    from playwright.sync_api import Frame

pytestmark = pytest.mark.browser

PAGE_ID = re.compile(r"/pages/(\d+)(?:/|$)")


@pytest.fixture
def site(start_emulator: Any, start_app: Any) -> RunningEmulator:
    emulator: RunningEmulator = start_emulator()
    install_app(emulator, start_app(emulator))
    space = emulator.state.site.space_by_key("DOCS")
    assert space is not None
    # Room for every page of the space, so the restricted ones are on the first screen.
    emulator.set_macro_params(space.homepage_id, {"rows": "100", "staleDays": "1"})
    return emulator


def rows(frame: Frame) -> list[str]:
    hrefs: list[str] = frame.eval_on_selector_all(
        "#item-rows td:first-child a", "els => els.map(e => e.href)"
    )
    return [match.group(1) for href in hrefs if (match := PAGE_ID.search(href))]


def editors(frame: Frame) -> list[str]:
    cells: list[str] = frame.eval_on_selector_all(
        "#item-rows td[data-label='Last editor']", "els => els.map(e => e.textContent.trim())"
    )
    return cells


def test_ada_and_una_see_the_rows_they_may_read(site: RunningEmulator, page: Any) -> None:
    state = site.state
    space = state.site.space_by_key("DOCS")
    assert space is not None
    una = state.site.user(USER_ACCOUNT)
    assert una is not None
    hidden_from_una = {
        str(i)
        for i in state.access.hidden(principal_of(una))
        if i in state.site.content
        and state.site.content[i].kind == "page"
        and state.site.content[i].status == "current"
        and state.site.content[i].space_id == space.id
    }
    assert hidden_from_una, "the seed restricts some DOCS pages from Una"

    as_ada = open_module(page, site.space_home_url("DOCS") + "?user=admin", MACRO_MODULE)
    ada_rows = rows(as_ada.frame)
    ada_editors = editors(as_ada.frame)
    screenshot(page, "viewer-ada")

    as_una = open_module(page, site.space_home_url("DOCS") + "?user=user", MACRO_MODULE)
    una_rows = rows(as_una.frame)
    una_text = as_una.text()
    screenshot(page, "viewer-una")

    assert set(ada_rows) - set(una_rows) == hidden_from_una
    assert set(una_rows) < set(ada_rows)
    assert [r for r in ada_rows if r not in hidden_from_una] == una_rows  # same order, minus hers
    titles = {state.site.content[int(i)].title for i in hidden_from_una}
    assert not any(title in una_text for title in titles)
    for names in (ada_editors, editors(as_una.frame)):
        assert names and not any(re.match(r"\d+:[0-9a-f-]+$", name) for name in names)
        assert "Former user" in names
