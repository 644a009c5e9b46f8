"""The freshness macro in Chromium, against a live emulator whose content the figures are checked on.

Each test gets its own emulator (60 DOCS pages, so "Show more" has rows to add), its own app and
database, and the real signed install.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from emulator.site import Content
from tests.kit.browser import open_module, screenshot
from tests.kit.live_sites import MACRO_MODULE, RunningEmulator

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Page

pytestmark = pytest.mark.browser

DOCS_PAGES = 60
DEFAULT_STALE_DAYS = 90
DEFAULT_ROWS = 10
#: A report keeps only this many of the stalest items (app.reports.scan.MAX_ITEMS).
MAX_ITEMS = 500
WAIT_MS = 15_000
#: What must never reach a reader: a traceback, an exception's class name, a bare server error page.
LEAKS = re.compile(r"Traceback|File \"|\b[A-Z]\w*(Error|Exception)\b|Internal Server Error|werkzeug")
FRIENDLY_FAILURE = re.compile(r"Confluence did not answer|Confluence asked us to slow down")
PAGE_ID_IN_LINK = re.compile(r"/pages/(\d+)(?:/|$)")


@pytest.fixture
def emulator(start_emulator: Any) -> RunningEmulator:
    """An emulator whose DOCS space has enough pages for two screens of rows."""
    emulator: RunningEmulator = start_emulator(pages=DOCS_PAGES)
    return emulator


# --------------------------------------------------------------------------------------------------
# What the emulator says the report must contain
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    pages: list[Content]  # current pages of the space, stalest first

    @property
    def scanned(self) -> int:
        return len(self.pages)

    def stale(self, stale_days: int, now: float) -> int:
        threshold = now - stale_days * 86_400
        return sum(1 for p in self.pages if p.modified_at < threshold)

    def ids(self, count: int) -> list[str]:
        return [str(p.id) for p in self.pages[:count]]


def expected_report(emulator: RunningEmulator, space_key: str) -> Expected:
    site = emulator.state.site
    space = site.space_by_key(space_key)
    assert space is not None
    pages = [site.content[i] for i in site.pages_by_space.get(space.id, [])]
    current = [p for p in pages if p.status == "current"]
    # The app orders by last update, then by id as text (ties are practically impossible).
    current.sort(key=lambda p: (p.modified_at, str(p.id)))
    return Expected(current)


# --------------------------------------------------------------------------------------------------
# What the frame shows
# --------------------------------------------------------------------------------------------------


def stat(frame: Frame, test_id: str) -> str:
    return frame.locator(f'[data-testid="{test_id}"]').inner_text().strip()


def as_int(text: str) -> int:
    return int(text.replace(",", ""))


def row_ids(frame: Frame) -> list[str]:
    """The page id of each table row, from its title link (``…/pages/<id>/<slug>``)."""
    hrefs: list[str] = frame.eval_on_selector_all(
        "#item-rows tr td:first-child a", "els => els.map(e => e.getAttribute('href'))"
    )
    ids = []
    for href in hrefs:
        match = PAGE_ID_IN_LINK.search(href)
        assert match is not None, href
        ids.append(match.group(1))
    return ids


def row_dates(frame: Frame) -> list[str]:
    dates: list[str] = frame.eval_on_selector_all(
        "#item-rows tr time", "els => els.map(e => e.getAttribute('datetime'))"
    )
    return dates


def assert_no_leak(text: str) -> None:
    leak = LEAKS.search(text)
    assert leak is None, f"the frame shows {leak.group(0)!r}: {text!r}"


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


def test_summary_and_table_match_the_sites_content(
    emulator: RunningEmulator, installed: dict[str, Any], page: Page
) -> None:
    expected = expected_report(emulator, "DOCS")
    assert expected.scanned > 2 * DEFAULT_ROWS, "the seed must give two screens of rows"
    before = time.time()
    macro = open_module(page, emulator.space_home_url("DOCS"), MACRO_MODULE)
    frame = macro.frame
    frame.locator("#item-rows").wait_for(timeout=WAIT_MS)
    after = time.time()
    assert macro.status == 200

    scanned = as_int(stat(frame, "scanned"))
    stale = as_int(stat(frame, "stale"))
    share = stat(frame, "fresh-share")
    assert scanned == expected.scanned
    # The app's clock read lies between ours; a page crossing the threshold in between is allowed.
    assert expected.stale(DEFAULT_STALE_DAYS, after) >= stale >= expected.stale(DEFAULT_STALE_DAYS, before)
    assert 0 < stale < scanned, "the seed gives both fresh and stale pages"
    assert share == f"{round(100 * (scanned - stale) / scanned)}%"
    assert frame.get_by_text(f"Stale (over {DEFAULT_STALE_DAYS} days)").is_visible()

    oldest = frame.locator(".stat-oldest dd")
    assert oldest.locator("a").inner_text() == expected.pages[0].title
    assert PAGE_ID_IN_LINK.search(oldest.locator("a").get_attribute("href") or "") is not None

    assert row_ids(frame) == expected.ids(DEFAULT_ROWS)
    dates = row_dates(frame)
    assert dates == sorted(dates)
    assert frame.locator("#show-more").is_visible()
    assert frame.locator("#more-status").inner_text() == ""
    assert_no_leak(macro.text())
    screenshot(page, "product-macro-summary")


def test_show_more_appends_the_next_rows_oldest_first(
    emulator: RunningEmulator, installed: dict[str, Any], page: Page
) -> None:
    expected = expected_report(emulator, "DOCS")
    macro = open_module(page, emulator.space_home_url("DOCS"), MACRO_MODULE)
    frame = macro.frame
    rows = frame.locator("#item-rows tr")
    rows.first.wait_for(timeout=WAIT_MS)
    assert rows.count() == DEFAULT_ROWS
    first_screen = row_ids(frame)

    with page.expect_response(lambda r: "/api/freshness/items" in r.url, timeout=WAIT_MS) as answer:
        frame.locator("#show-more").click()
    response = answer.value
    assert response.status == 200
    authorization = response.request.headers.get("authorization", "")
    assert authorization.startswith("JWT "), authorization  # the context token from AP.context.getToken()
    status = frame.locator("#more-status")
    total = min(expected.scanned, MAX_ITEMS)
    status.filter(has_text=f"Showing the {2 * DEFAULT_ROWS} stalest items you can open").wait_for(
        timeout=WAIT_MS
    )

    ids = row_ids(frame)
    assert len(ids) == 2 * DEFAULT_ROWS
    assert ids[:DEFAULT_ROWS] == first_screen, "the first rows stay where they were"
    assert len(set(ids)) == len(ids), "no row twice"
    assert ids == expected.ids(2 * DEFAULT_ROWS)
    dates = row_dates(frame)
    assert dates == sorted(dates), "still oldest first"
    assert frame.locator("#show-more").is_visible() is (total > 2 * DEFAULT_ROWS)
    screenshot(page, "product-macro-show-more")


def test_confluence_down_shows_a_friendly_message_not_a_stack_trace(
    emulator: RunningEmulator, installed: dict[str, Any], page: Page
) -> None:
    # DOCS is rendered (and cached) while Confluence answers.
    docs = open_module(page, emulator.space_home_url("DOCS"), MACRO_MODULE)
    docs.frame.locator("#item-rows").wait_for(timeout=WAIT_MS)
    scanned = stat(docs.frame, "scanned")

    emulator.set_faults(fault5xxRate=1.0, retryAfter=0)

    # ENG has no cached report: every call to Confluence fails. The scan job backs off (or waits out
    # the 503's Retry-After) and the progress page says so, in plain words, updating itself.
    eng = open_module(page, emulator.space_home_url("ENG"), MACRO_MODULE, until_report=False)
    assert eng.status == 200
    detail = eng.frame.locator("#scan-detail")
    eng.frame.wait_for_function(
        "() => /did not answer|slow down/.test(document.querySelector('#scan-detail').textContent)",
        timeout=WAIT_MS,
    )
    text = eng.text()
    assert FRIENDLY_FAILURE.search(detail.inner_text()), detail.inner_text()
    assert eng.frame.locator("#item-rows").count() == 0
    assert_no_leak(text)
    screenshot(page, "product-macro-confluence-down")

    # DOCS still renders from its cached report, with no call to Confluence.
    docs = open_module(page, emulator.space_home_url("DOCS"), MACRO_MODULE)
    docs.frame.locator("#item-rows").wait_for(timeout=WAIT_MS)
    assert stat(docs.frame, "scanned") == scanned


def test_rate_limited_confluence_shows_a_friendly_message_and_counts_on_the_admin_page(
    emulator: RunningEmulator, installed: dict[str, Any], page: Page
) -> None:
    emulator.set_faults(fault429Rate=1.0, retryAfter=0)
    # The HR home page also carries the macro; nothing is cached for this tenant yet.
    hr = open_module(page, emulator.space_home_url("HR"), MACRO_MODULE, until_report=False)
    assert hr.status == 200
    hr.frame.wait_for_function(
        "() => /slow down/.test(document.querySelector('#scan-detail').textContent)", timeout=WAIT_MS
    )
    assert "Confluence asked us to slow down" in hr.frame.locator("#scan-detail").inner_text()
    assert_no_leak(hr.text())
    screenshot(page, "product-macro-rate-limited")

    # The admin page asks Confluence whether the viewer is an admin, so let it answer again.
    emulator.clear_faults()
    admin = open_module(page, emulator.module_page_url("freshness-admin"), "freshness-admin")
    assert admin.status == 200
    hits = stat(admin.frame, "rate-limit-hits")
    assert as_int(hits.split()[0]) >= 1, hits
    health = admin.frame.locator(".health").inner_text()
    assert emulator.host_port in health
    assert "none yet" not in health, health  # the admin check itself was a successful call
