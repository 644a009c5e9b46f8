"""Drive headless Chromium: a host page frames a real app iframe that uses all.js (getToken, resize)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from flask import Flask

from emulator.site import ADMIN_ACCOUNT_ID
from emulator.state import emulator_state
from tests.emulator.fake_app import BASE_PATH, make_fake_app
from tests.kit.live import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
RESIZED = "() => document.querySelector('iframe.ap-iframe')?.getAttribute('data-ap-resized') === '333px'"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


@pytest.fixture
def installed(live_emulator: tuple[LiveServer, Flask]) -> Iterator[tuple[LiveServer, Flask, Flask]]:
    """An emulator with the fake app (on another origin) installed through the real lifecycle."""
    server, emulator = live_emulator
    app = make_fake_app()
    app_server = LiveServer(app)
    app.config.update(BASE_URL=f"{app_server.url}{BASE_PATH}", INSTALL_KEYS_URL=f"{server.url}/install-keys",
                      ALL_JS_URL=f"{server.url}/atlassian-connect/all.js")
    app_server.start()
    try:
        response = requests.post(f"{server.url}/_emulator/apps", timeout=30,
                                 json={"descriptorUrl": f"{app.config['BASE_URL']}/atlassian-connect.json"})
        assert response.status_code == 201, response.text
        yield server, emulator, app
    finally:
        app_server.stop()


def test_iframe_gets_a_context_token_and_resizes(installed: tuple[LiveServer, Flask, Flask]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    server, emulator, app = installed
    space = emulator_state(emulator).site.space_by_key("DOCS")
    assert space is not None
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/wiki/spaces/DOCS/pages/{space.homepage_id}", timeout=15_000)
            frame_element = page.locator("iframe.ap-iframe").first
            page.wait_for_function(RESIZED, timeout=15_000)
            status = page.frame_locator("iframe.ap-iframe").first.locator("#status")
            sync_api.expect(status).to_have_text(re.compile(r"^token:"), timeout=15_000)
            token = status.inner_text().removeprefix("token:")
            box = frame_element.bounding_box()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "emulator-host-page.png"), full_page=True)
        finally:
            browser.close()
    claims = jwt.decode(token, app.config["SECRET"], algorithms=["HS256"])
    assert claims["qsh"] == "context-qsh" and claims["sub"] == ADMIN_ACCOUNT_ID
    assert claims["context"]["confluence"]["space"]["key"] == "DOCS"
    assert box is not None and round(box["height"]) == 333
