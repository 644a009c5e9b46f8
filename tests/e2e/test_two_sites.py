"""Two emulators (two Confluence sites) install the same app: two tenants that never see each other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import requests
from atlassian_jwt.url_utils import hash_url

from emulator.site import ADMIN_ACCOUNT_ID
from tests.e2e.conftest import StartApp, StartEmulator
from tests.kit.browser import html_shows_site, open_module, screenshot
from tests.kit.live_sites import (
    HTTP_TIMEOUT,
    MACRO_MODULE,
    RunningApp,
    RunningEmulator,
    install_app,
    running_install_keys_hub,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

MACRO_URL = "/macros/freshness?pageId=1000001&spaceKey=DOCS&outputType=display"


@dataclass
class TwoSites:
    a: RunningEmulator
    b: RunningEmulator
    app: RunningApp
    info_a: dict[str, Any]
    info_b: dict[str, Any]


@pytest.fixture
def two_sites(start_emulator: StartEmulator, start_app: StartApp) -> Iterator[TwoSites]:
    """Two emulators, one app; install keys come from one service that knows both (as at Atlassian)."""
    a = start_emulator(site_name="Site A")
    b = start_emulator(site_name="Site B")
    with running_install_keys_hub(a, b) as hub:
        app = start_app(a, overrides={"INSTALL_KEYS_URL": hub.url, "OAUTH_URL": hub.url})
        info_a = install_app(a, app)
        info_b = install_app(b, app)
        yield TwoSites(a, b, app, info_a, info_b)


def host_token(*, iss: str, secret: str, url: str = MACRO_URL) -> str:
    """An iframe JWT as a site signs one: HS256, ``iss`` = clientKey, qsh by Atlassian's own package."""
    now = int(time.time())
    claims = {
        "iss": iss,
        "sub": ADMIN_ACCOUNT_ID,
        "iat": now,
        "exp": now + 180,
        "qsh": hash_url("GET", url),
        "context": {},
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def get_macro(app: RunningApp, token: str) -> requests.Response:
    """GET the macro; while its first scan runs (the progress page), ask again (bounded)."""
    deadline = time.monotonic() + HTTP_TIMEOUT
    while True:
        response = requests.get(f"{app.url}{MACRO_URL}&jwt={token}", timeout=HTTP_TIMEOUT)
        if 'class="freshness scanning"' not in response.text or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_the_app_stores_one_tenant_per_site(two_sites: TwoSites) -> None:
    a, b = two_sites.a, two_sites.b
    assert two_sites.info_a["clientKey"] != two_sites.info_b["clientKey"]
    tenants = {t["client_key"]: t for t in two_sites.app.tenants()}
    assert set(tenants) == {two_sites.info_a["clientKey"], two_sites.info_b["clientKey"]}
    assert tenants[two_sites.info_a["clientKey"]]["base_url"] == a.base_url
    assert tenants[two_sites.info_b["clientKey"]]["base_url"] == b.base_url
    assert tenants[two_sites.info_a["clientKey"]]["shared_secret"] == a.shared_secret()
    assert tenants[two_sites.info_b["clientKey"]]["shared_secret"] == b.shared_secret()
    assert a.shared_secret() != b.shared_secret()


@pytest.mark.browser
def test_each_sites_macro_shows_its_own_site(two_sites: TwoSites, page: Page) -> None:
    for this, other, label in ((two_sites.a, two_sites.b, "a"), (two_sites.b, two_sites.a, "b")):
        macro = open_module(page, this.space_home_url("DOCS"), MACRO_MODULE)
        assert macro.status == 200
        assert macro.shows_site(this.host_port), (macro.text(), macro.links())
        assert not macro.shows_site(other.host_port), (macro.text(), macro.links())
        screenshot(page, f"e2e-two-sites-macro-site-{label}")


def test_a_token_signed_with_one_sites_secret_cannot_name_the_other_site(two_sites: TwoSites) -> None:
    b_key = two_sites.info_b["clientKey"]
    secret_a = two_sites.a.shared_secret()

    forged = get_macro(two_sites.app, host_token(iss=b_key, secret=secret_a))

    assert forged.status_code == 401
    assert not html_shows_site(forged.text, two_sites.b.host_port)
    assert not html_shows_site(forged.text, two_sites.a.host_port)


def test_a_token_signed_with_a_sites_own_secret_works(two_sites: TwoSites) -> None:
    """The control for the forgery test: same request, same code path, honest claims."""
    for this, other, key in (
        (two_sites.a, two_sites.b, two_sites.info_a["clientKey"]),
        (two_sites.b, two_sites.a, two_sites.info_b["clientKey"]),
    ):
        response = get_macro(two_sites.app, host_token(iss=key, secret=this.shared_secret()))
        assert response.status_code == 200, response.text
        assert html_shows_site(response.text, this.host_port), response.text
        assert not html_shows_site(response.text, other.host_port), response.text
