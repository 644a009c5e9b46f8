"""In Chromium: a scope's first render shows the scan's progress, then the report replaces it in place.

The emulator answers every REST call slowly, so the scan (run by the app's worker thread) takes a few
seconds; the progress page polls the status route with a context JWT and swaps the report in without
reloading the iframe, then asks all.js to resize it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.kit.browser import BROWSER_TIMEOUT, artifact_path, open_module, screenshot, wait_for_report
from tests.kit.live_sites import MACRO_MODULE, RunningEmulator, install_app

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PAGES = 3000
LATENCY_MS = 300


@pytest.fixture
def slow_site(start_emulator: Any, start_app: Any) -> RunningEmulator:
    emulator: RunningEmulator = start_emulator(pages=PAGES)
    install_app(emulator, start_app(emulator))
    emulator.set_faults(latencyMs=LATENCY_MS)
    return emulator


def test_the_progress_page_turns_into_the_report_without_a_reload(
    slow_site: RunningEmulator, page: Page
) -> None:
    macro = open_module(page, slow_site.space_home_url("DOCS"), MACRO_MODULE, until_report=False)
    frame = macro.frame
    assert macro.status == 200
    assert frame.locator(".freshness.scanning").count() == 1
    assert frame.locator("progress#scan-bar").count() == 1
    frame.evaluate("() => { window.__notReloaded = true; }")

    # The status polls report the pages read so far.
    frame.wait_for_function(
        "() => /[0-9][0-9,]* pages read/.test(document.querySelector('#scan-detail')?.textContent || '')",
        timeout=BROWSER_TIMEOUT * 1000,
    )
    read = int(re.sub(r"\D", "", frame.locator("#scan-detail").inner_text().split(" read")[0]))
    assert 0 < read < PAGES
    screenshot(page, "scan-progress-scanning")
    macro.element.screenshot(path=str(artifact_path("scan-progress-scanning-frame")))

    wait_for_report(frame, timeout=60)
    assert frame.evaluate("() => window.__notReloaded === true"), "the iframe was reloaded"
    scanned = int(frame.locator('[data-testid="scanned"]').inner_text().replace(",", ""))
    assert read < scanned <= PAGES
    assert frame.locator("#item-rows tr").count() == 10
    # all.js resized the iframe to the report's height (the host page records each resize).
    height = page.locator('iframe[data-ap-module-key="freshness-report"]').bounding_box()
    assert height is not None and height["height"] > 300
    screenshot(page, "scan-progress-report")
    macro.element.screenshot(path=str(artifact_path("scan-progress-report-frame")))

    # Show more works on the swapped-in report.
    frame.get_by_role("button", name="Show more").click()
    frame.wait_for_function(
        "() => document.querySelectorAll('#item-rows tr').length === 20", timeout=BROWSER_TIMEOUT * 1000
    )
