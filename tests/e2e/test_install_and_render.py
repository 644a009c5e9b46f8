"""One emulator, our app installed through the real signed lifecycle, the macro and admin page in Chromium."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.kit.browser import open_module, screenshot, wait_for_resize
from tests.kit.live_sites import ADMIN_MODULE, APP_KEY, MACRO_MODULE, RunningApp, RunningEmulator

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_install_stores_the_emulators_tenant(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any]
) -> None:
    tenants = live_app.tenants()
    assert [t["client_key"] for t in tenants] == [installed["clientKey"]]
    tenant = tenants[0]
    assert installed["clientKey"].startswith(f"emulator-{emulator.port}-")
    assert tenant["base_url"] == f"http://127.0.0.1:{emulator.port}/wiki" == installed["baseUrl"]
    assert tenant["app_key"] == APP_KEY
    assert tenant["installed"] is True
    # The secret the app stored is the one the site issued (it signs every iframe URL with it).
    assert tenant["shared_secret"] == emulator.shared_secret()
    assert [(a.key, a.enabled) for a in emulator.state.apps.all()] == [(APP_KEY, True)]


@pytest.mark.browser
def test_space_home_page_renders_the_macro_from_the_app(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any], page: Page
) -> None:
    docs = next(s for s in installed["spaces"] if s["key"] == "DOCS")
    url = f"{emulator.url}/wiki/spaces/DOCS/pages/{docs['homepageId']}"

    macro = open_module(page, url, MACRO_MODULE)

    assert macro.frame.url.startswith(f"{live_app.url}/macros/freshness?")
    assert macro.status == 200
    assert macro.shows_site(emulator.host_port), (macro.text(), macro.links())
    height = wait_for_resize(page, MACRO_MODULE)
    resized_to = macro.element.get_attribute("data-ap-resized")  # set by host.js on all.js's resize message
    assert resized_to is not None and resized_to.endswith("px"), resized_to
    assert height > 0
    assert abs(height - float(resized_to.removesuffix("px"))) <= 1
    shot = screenshot(page, "e2e-macro-on-space-home")
    assert shot.stat().st_size > 0


@pytest.mark.browser
def test_admin_page_frames_the_apps_admin_module(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any], page: Page
) -> None:
    admin = open_module(page, emulator.module_page_url(ADMIN_MODULE), ADMIN_MODULE)

    assert admin.frame.url.startswith(f"{live_app.url}/admin/freshness?")
    assert admin.status == 200
    assert admin.shows_site(emulator.host_port), (admin.text(), admin.links())
    screenshot(page, "e2e-admin-page")
