"""Fixtures for end-to-end tests: live emulators, the live app, the real install, and Chromium.

The helpers live in ``tests/kit/e2e.py``; these fixtures only give them pytest lifetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.kit.database import fresh_database_url
from tests.kit.e2e import (
    BROWSER_TIMEOUT,
    CHROMIUM,
    CHROMIUM_ARGS,
    RunningApp,
    RunningEmulator,
    install_app,
    running_app,
    running_emulator,
    screenshot,
    skip_or_fail_without_browser,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

StartEmulator = Callable[..., RunningEmulator]
StartApp = Callable[..., RunningApp]


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """A factory: ``start_emulator(seed=…, pages=…, site_name=…)`` serves one more emulator.

    Every emulator it started is stopped at teardown.
    """
    with ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(running_emulator(**kwargs))


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[StartApp]:
    """A factory: ``start_app(emulator, database_url=None, overrides=None)`` serves one more app.

    The first app gets ``fresh_database_url(tmp_path)`` (PostgreSQL when TEST_DATABASE_URL is set),
    any further one its own SQLite file, unless ``database_url`` is given.
    """
    with ExitStack() as stack:
        started: list[RunningApp] = []

        def start(
            emulator: RunningEmulator,
            database_url: str | None = None,
            overrides: dict[str, Any] | None = None,
        ) -> RunningApp:
            if database_url is None:
                database_url = (
                    fresh_database_url(tmp_path)
                    if not started
                    else f"sqlite:///{tmp_path / f'app{len(started) + 1}.db'}"
                )
            started.append(stack.enter_context(running_app(database_url, emulator.url, overrides=overrides)))
            return started[-1]

        yield start


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> RunningEmulator:
    """One emulator on a free port (curated content, seed = its port)."""
    return start_emulator()


@pytest.fixture
def live_app(start_app: StartApp, emulator: RunningEmulator) -> RunningApp:
    """The app on a free port and a fresh database, pointed at ``emulator`` (not installed yet)."""
    return start_app(emulator)


@pytest.fixture
def installed(emulator: RunningEmulator, live_app: RunningApp) -> dict[str, Any]:
    """``live_app`` installed into ``emulator`` through the real lifecycle; the emulator's site info."""
    return install_app(emulator, live_app)


# ------------------------------------------------------------------------------------------------
# Chromium: one browser for the package, a fresh context and page per test
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; skips without it unless REQUIRE_BROWSER=1 (then fails).

    One browser for every test under ``tests/e2e/`` (package scope, not session): Playwright's sync API
    allows one instance per thread at a time, and ``tests/emulator/test_browser.py`` starts its own.
    """
    skip_or_fail_without_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in its own browser context; on a failed test its last state is saved as a screenshot."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(BROWSER_TIMEOUT * 1000)
    new_page = context.new_page()
    try:
        yield new_page
        if request.node.stash.get(CALL_FAILED, False):
            with suppress(PlaywrightError):  # the evidence is a bonus; never mask the failure
                screenshot(new_page, f"{request.node.name}-failed")
    finally:
        context.close()
