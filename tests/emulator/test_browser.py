"""Drive headless Chromium: a host page frames a real app iframe that uses all.js (getToken, resize).

The browser is the session's (``page`` from ``tests/conftest.py``): Playwright's sync API allows one
instance per thread, so this test never starts its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import jwt
import pytest
import requests
from flask import Flask

from emulator.site import ADMIN_ACCOUNT_ID
from emulator.state import emulator_state
from tests.emulator.fake_app import BASE_PATH, make_fake_app
from tests.kit.browser import screenshot
from tests.kit.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

RESIZED = "() => document.querySelector('iframe.ap-iframe')?.getAttribute('data-ap-resized') === '333px'"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


@pytest.fixture
def installed(live_emulator: tuple[LiveServer, Flask]) -> Iterator[tuple[LiveServer, Flask, Flask]]:
    """An emulator with the fake app (on another origin) installed through the real lifecycle."""
    server, emulator_app = live_emulator
    app = make_fake_app()
    app_server = LiveServer(app)
    app.config.update(
        BASE_URL=f"{app_server.url}{BASE_PATH}",
        INSTALL_KEYS_URL=f"{server.url}/install-keys",
        ALL_JS_URL=f"{server.url}/atlassian-connect/all.js",
    )
    app_server.start()
    try:
        response = requests.post(
            f"{server.url}/_emulator/apps",
            timeout=30,
            json={"descriptorUrl": f"{app.config['BASE_URL']}/atlassian-connect.json"},
        )
        assert response.status_code == 201, response.text
        yield server, emulator_app, app
    finally:
        app_server.stop()


def test_iframe_gets_a_context_token_and_resizes(
    installed: tuple[LiveServer, Flask, Flask], page: Page
) -> None:
    from playwright.sync_api import expect

    server, emulator_app, app = installed
    space = emulator_state(emulator_app).site.space_by_key("DOCS")
    assert space is not None

    page.goto(f"{server.url}/wiki/spaces/DOCS/pages/{space.homepage_id}", timeout=TIMEOUT_MS)
    page.wait_for_function(RESIZED, timeout=TIMEOUT_MS)
    status = page.frame_locator("iframe.ap-iframe").first.locator("#status")
    expect(status).to_have_text(re.compile(r"^token:"), timeout=TIMEOUT_MS)
    token = status.inner_text().removeprefix("token:")
    box = page.locator("iframe.ap-iframe").first.bounding_box(timeout=TIMEOUT_MS)
    screenshot(page, "emulator-host-page")

    claims = jwt.decode(token, app.config["SECRET"], algorithms=["HS256"])
    assert claims["qsh"] == "context-qsh" and claims["sub"] == ADMIN_ACCOUNT_ID
    assert claims["context"]["confluence"]["space"]["key"] == "DOCS"
    assert box is not None and round(box["height"]) == 333
