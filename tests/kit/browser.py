"""Chromium for end-to-end tests: Debian's browser driven by Playwright, module frames, screenshots.

Every wait is bounded. Live sites (emulators, the app) come from ``tests/kit/live_sites.py``.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import pytest

from tests.kit.constants import APP_KEY
from tests.kit.live_sites import MACRO_MODULE
from tests.kit.processes import REPO

if TYPE_CHECKING:
    from playwright.sync_api import ElementHandle, Frame, Page, Response

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Screenshots and other browser evidence (gitignored).
ARTIFACTS: Final = REPO / "test-artifacts"

#: Set to 1 (CI does) to turn a missing browser into a failure instead of a skip.
REQUIRE_BROWSER_ENV: Final = "REQUIRE_BROWSER"

#: Default bound for browser waits, in seconds.
BROWSER_TIMEOUT: Final = 15.0


# --------------------------------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------------------------------


def browser_required() -> bool:
    return os.environ.get(REQUIRE_BROWSER_ENV) == "1"


def skip_or_fail_without_browser() -> None:
    """Skip (or, with ``REQUIRE_BROWSER=1``, fail) when Chromium or Playwright is unavailable."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "browser tests need the playwright package (pip install -e '.[dev]')"
    if problem is None:
        return
    if browser_required():
        pytest.fail(f"{problem}; {REQUIRE_BROWSER_ENV}=1 forbids skipping", pytrace=False)
    pytest.skip(problem)


def artifact_path(name: str, suffix: str = ".png") -> Path:
    """A file under ``test-artifacts/`` with a filesystem-safe version of ``name``."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "artifact"
    return ARTIFACTS / f"{safe}{suffix}"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>.png`` and return its path."""
    path = artifact_path(name)
    page.screenshot(path=str(path), full_page=True)
    return path


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def html_shows_site(html: str, host_port: str) -> bool:
    """Like :meth:`ModuleFrame.shows_site` for an HTML document fetched without a browser.

    Only text and ``<a href>`` count: the all.js ``<script src>`` names whichever emulator serves it.
    """
    parser = _Links()
    parser.feed(html)
    parser.close()
    return host_port in "".join(parser.text) or any(urlsplit(h).netloc == host_port for h in parser.hrefs)


def module_iframe_selector(module_key: str, app_key: str = APP_KEY) -> str:
    """CSS for the host page's iframe of one app module."""
    return f'iframe.ap-iframe[data-ap-app-key="{app_key}"][data-ap-module-key="{module_key}"]'


@dataclass
class ModuleFrame:
    """An app module framed by a host page: the ``<iframe>`` element, its frame, and the status it got."""

    element: ElementHandle
    frame: Frame
    status: int | None

    def text(self) -> str:
        """The frame's visible text."""
        return self.frame.locator("body").inner_text()

    def links(self) -> list[str]:
        """Every link target in the frame, as absolute URLs."""
        hrefs: list[str] = self.frame.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        return hrefs

    def shows_site(self, host_port: str) -> bool:
        """Whether the frame names the site ``host:port`` in its text or links to a page there."""
        return host_port in self.text() or any(urlsplit(h).netloc == host_port for h in self.links())


def module_frame(
    page: Page, module_key: str = MACRO_MODULE, *, app_key: str = APP_KEY, timeout: float = BROWSER_TIMEOUT
) -> tuple[ElementHandle, Frame]:
    """Wait (bounded) for the module's iframe to be attached and its document loaded."""
    ms = timeout * 1000
    element = page.wait_for_selector(
        module_iframe_selector(module_key, app_key), state="attached", timeout=ms
    )
    if element is None:  # pragma: no cover - wait_for_selector raises on timeout
        raise TimeoutError(f"no iframe for {module_key}")
    frame = element.content_frame()
    deadline = time.monotonic() + timeout
    while frame is None or frame.url in ("", "about:blank"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {module_key} iframe did not navigate within {timeout} s")
        page.wait_for_timeout(50)
        frame = element.content_frame()
    frame.wait_for_load_state("load", timeout=ms)
    return element, frame


#: The macro's "first scan under way" section; its script swaps the report in when it is ready.
SCANNING_SELECTOR: Final = ".freshness.scanning"


def wait_for_report(frame: Frame, *, timeout: float = BROWSER_TIMEOUT) -> None:
    """Wait (bounded) until a macro frame shows a report, not the progress of its first scan."""
    frame.wait_for_function(
        "(sel) => document.querySelector(sel) === null", arg=SCANNING_SELECTOR, timeout=timeout * 1000
    )


def open_module(
    page: Page,
    url: str,
    module_key: str = MACRO_MODULE,
    *,
    app_key: str = APP_KEY,
    timeout: float = BROWSER_TIMEOUT,
    until_report: bool = True,
) -> ModuleFrame:
    """Load a host page and return the module's frame with the HTTP status of its document.

    For the macro, ``until_report`` (the default) also waits until its report is shown: a scope's
    first render shows the scan's progress and swaps the report in when the job has run.
    """
    documents: list[Response] = []

    def record(response: Response) -> None:
        if response.request.resource_type == "document":
            documents.append(response)

    page.on("response", record)
    try:
        page.goto(url, timeout=timeout * 1000)
        element, frame = module_frame(page, module_key, app_key=app_key, timeout=timeout)
    finally:
        page.remove_listener("response", record)
    status = next((r.status for r in documents if r.frame == frame), None)
    if status is None:
        status = next((r.status for r in documents if r.url == frame.url), None)
    if until_report and module_key == MACRO_MODULE and status == 200:
        wait_for_report(frame, timeout=timeout)
    return ModuleFrame(element, frame, status)


def wait_for_resize(
    page: Page, module_key: str = MACRO_MODULE, *, app_key: str = APP_KEY, timeout: float = BROWSER_TIMEOUT
) -> float:
    """Wait (bounded) until all.js has resized the module's iframe; return its rendered height in px."""
    selector = module_iframe_selector(module_key, app_key)
    page.wait_for_function(
        "(sel) => document.querySelector(sel)?.hasAttribute('data-ap-resized') === true",
        arg=selector,
        timeout=timeout * 1000,
    )
    box = page.locator(selector).bounding_box(timeout=timeout * 1000)
    if box is None:
        raise AssertionError(f"the {module_key} iframe is not displayed")
    return float(box["height"])
