"""Fixtures for the whole suite: an app on a fresh database, a kit that plays Atlassian, and Chromium."""

from __future__ import annotations

import socket
from collections.abc import Generator, Iterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import app.tenants.models
from app import create_app
from app.db import get_engine
from app.reports.cache import _decoded as decoded_reports
from tests.kit.atlassian import Atlassian, Site, running_atlassian
from tests.kit.browser import (
    BROWSER_TIMEOUT,
    CHROMIUM,
    CHROMIUM_ARGS,
    screenshot,
    skip_or_fail_without_browser,
)
from tests.kit.confluence import FakeConfluence
from tests.kit.constants import APP_BASE_URL, APP_KEY
from tests.kit.database import create_schema, fresh_database_url

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

LOOPBACK_NAMES = {"localhost", "::1", "ip6-localhost"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to resolve or reach a host that is not on this machine's loopback."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES and not name.startswith("127."):
            raise OSError(f"tests may only reach loopback hosts, not {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(autouse=True)
def forget_decoded_reports() -> None:
    """Each test has its own database, but rows in two of them can share a key and a timestamp."""
    decoded_reports.clear()


@pytest.fixture(scope="session")
def atlassian() -> Iterator[Atlassian]:
    with running_atlassian() as kit:
        yield kit


@pytest.fixture(scope="session")
def confluence() -> Iterator[FakeConfluence]:
    fake = FakeConfluence().start()
    yield fake
    fake.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return fresh_database_url(tmp_path)


@pytest.fixture
def app_overrides(
    atlassian: Atlassian, database_url: str, tmp_path: Path, confluence: FakeConfluence
) -> dict[str, Any]:
    return {
        "OAUTH_URL": confluence.origin,  # acting as a viewer: the emulator mints the bearer tokens
        "TESTING": True,
        "JOBS_SQLITE_PATH": str(tmp_path / "jobs.db"),
        "DATABASE_URL": database_url,
        "BASE_URL": APP_BASE_URL,
        "KEY": APP_KEY,
        "INSTALL_KEYS_URL": atlassian.key_server.url,
        "ALLOWED_TENANT_HOSTS": ["*.atlassian.net", "127.0.0.1"],
        "SECRET_KEY": "test-secret-key",
    }


@pytest.fixture
def app(app_overrides: dict[str, Any], database_url: str) -> Iterator[Flask]:
    create_schema(database_url)
    application = create_app(app_overrides)
    yield application
    get_engine(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def site(confluence: FakeConfluence) -> Site:
    """A site served by the loopback emulator (its REST API accepts the site's secret)."""
    return Site(
        base_url=confluence.base_url,
        on_install=lambda s: confluence.register(APP_KEY, s.shared_secret, oauth_client_id=s.oauth_client_id),
    )


def install(client: FlaskClient, atlassian: Atlassian, site: Site, **payload: Any) -> Any:
    """POST a correctly signed ``installed`` callback for ``site``."""
    if site.on_install is not None:
        site.on_install(site)
    token = atlassian.install_token(site, audience=APP_BASE_URL)
    return client.post(
        "/lifecycle/installed",
        json=site.payload("installed", app_key=APP_KEY, **payload),
        headers={"Authorization": f"JWT {token}"},
    )


def uninstall(client: FlaskClient, atlassian: Atlassian, site: Site) -> Any:
    """POST a correctly signed ``uninstalled`` callback for ``site``."""
    token = atlassian.install_token(site, audience=APP_BASE_URL, url="/lifecycle/uninstalled")
    return client.post(
        "/lifecycle/uninstalled",
        json=site.payload("uninstalled", app_key=APP_KEY),
        headers={"Authorization": f"JWT {token}"},
    )


@pytest.fixture
def installed_site(client: FlaskClient, atlassian: Atlassian, site: Site) -> Site:
    response = install(client, atlassian, site)
    assert response.status_code == 204, response.get_data(as_text=True)
    return site


# ------------------------------------------------------------------------------------------------
# Chromium: one browser for the whole session, a fresh context and page per test
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; skips without it unless REQUIRE_BROWSER=1 (then fails).

    One Playwright and one browser for every test in the session: Playwright's sync API allows one
    instance per thread at a time, so no test may start its own; take ``page`` (or ``browser``).
    """
    skip_or_fail_without_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            launched.close()


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


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
