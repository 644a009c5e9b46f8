"""Host pages: macro and admin iframes carry a JWT whose qsh an independent check accepts; escaping."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
from atlassian_jwt.url_utils import hash_url
from flask import Flask

from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID
from emulator.state import EmulatorState
from tests.emulator.conftest import PORT, SECRET, register_app
from tests.kit.constants import APP_KEY

APP_BASE = "http://127.0.0.1:1/app"
MODULES = {
    "dynamicContentMacros": [
        {
            "key": "report",
            "name": {"value": "Report"},
            "url": "/macro?pageId={page.id}&v={page.version}&title={page.title}&space={space.key}"
            "&sid={space.id}"
            "&type={page.type}&m={macro.id}&h={macro.hash}&out={output.type}&view={view}&n={count}",
            "parameters": [{"identifier": "view", "defaultValue": "list"}, {"identifier": "count"}],
        }
    ],
    "adminPages": [{"key": "settings", "name": {"value": "Settings"}, "url": "/admin?space={space.key}"}],
}


@pytest.fixture
def host(emulator_app: Flask, state: EmulatorState) -> Flask:
    register_app(state, base_url=APP_BASE, modules=MODULES)
    return emulator_app


def _iframes(page_html: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<iframe[^>]*\ssrc="([^"]+)"', page_html)]


def _verify_iframe_url(src: str) -> dict[str, object]:
    """Verify as an app would: HS256, then qsh over the URL relative to the app's baseUrl path."""
    assert src.startswith(APP_BASE + "/")
    relative = src[len(APP_BASE) :]
    token = dict(parse_qsl(urlsplit(src).query))["jwt"]
    claims: dict[str, object] = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["qsh"] == hash_url("GET", relative)
    assert claims["exp"] == claims["iat"] + 180  # type: ignore[operator]
    return claims


def _home_url(state: EmulatorState, key: str = "DOCS") -> str:
    space = state.site.space_by_key(key)
    assert space is not None
    return f"/wiki/spaces/{key}/pages/{space.homepage_id}"


def test_home_page_frames_each_macro_with_valid_jwt(host: Flask, state: EmulatorState) -> None:
    response = host.test_client().get(_home_url(state))
    assert response.status_code == 200
    (src,) = _iframes(response.get_data(as_text=True))
    claims = _verify_iframe_url(src)
    assert claims["iss"] == state.site.client_key and claims["sub"] == ADMIN_ACCOUNT_ID
    assert claims["context"] == {}
    params = dict(parse_qsl(urlsplit(src).query, keep_blank_values=True))
    space = state.site.space_by_key("DOCS")
    assert space is not None
    assert params["pageId"] == str(space.homepage_id) and params["space"] == "DOCS"
    assert params["sid"] == str(space.id) and params["type"] == "page" and params["out"] == "display"
    assert params["view"] == "list" and params["n"] == "" and params["title"] == "Documentation Home"
    assert params["xdm_e"] == f"http://127.0.0.1:{PORT}" and params["cp"] == "/wiki"
    assert params["xdm_c"] == f"channel-{APP_KEY}__report" and params["lic"] == "none"
    assert params["xdm_deprecated_addon_key_do_not_use"] == APP_KEY and params["cv"]
    names = [k for k, _ in parse_qsl(urlsplit(src).query, keep_blank_values=True)]
    assert names.index("n") < names.index("xdm_e") < names.index("jwt") == len(names) - 1


def test_viewer_switches_to_normal_user(host: Flask, state: EmulatorState) -> None:
    client = host.test_client()
    (src,) = _iframes(client.get(_home_url(state) + "?user=user").get_data(as_text=True))
    assert _verify_iframe_url(src)["sub"] == USER_ACCOUNT_ID
    # The choice sticks in a cookie for the next page view.
    (src,) = _iframes(client.get(_home_url(state)).get_data(as_text=True))
    assert _verify_iframe_url(src)["sub"] == USER_ACCOUNT_ID


def test_stored_macro_params_fill_the_template(host: Flask, state: EmulatorState) -> None:
    page = next(c for c in state.site.content.values() if c.title == "日本語のページ")
    client = host.test_client()
    assert (
        client.post(
            f"/_emulator/pages/{page.id}/macro-params",
            json={"appKey": APP_KEY, "moduleKey": "report", "params": {"view": "tree & more"}},
        ).status_code
        == 200
    )
    (src,) = _iframes(client.get(f"/wiki/spaces/DOCS/pages/{page.id}").get_data(as_text=True))
    _verify_iframe_url(src)
    params = dict(parse_qsl(urlsplit(src).query, keep_blank_values=True))
    assert params["view"] == "tree & more" and params["title"] == "日本語のページ"


def test_admin_page_frames_the_admin_module(host: Flask) -> None:
    response = host.test_client().get(f"/wiki/plugins/servlet/ac/{APP_KEY}/settings?space.key=HR")
    (src,) = _iframes(response.get_data(as_text=True))
    claims = _verify_iframe_url(src)
    assert claims["sub"] == ADMIN_ACCOUNT_ID
    assert dict(parse_qsl(urlsplit(src).query))["space"] == "HR"
    assert host.test_client().get(f"/wiki/plugins/servlet/ac/{APP_KEY}/nope").status_code == 404


def test_titles_are_escaped(host: Flask, state: EmulatorState) -> None:
    page = next(c for c in state.site.content.values() if c.title.startswith("Release <script>"))
    body = host.test_client().get(f"/wiki/spaces/DOCS/pages/{page.id}/anything").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "Release &lt;script&gt;alert(1)&lt;/script&gt; notes" in body
    index = host.test_client().get("/wiki/").get_data(as_text=True)
    assert "<script>alert" not in index and "DOCS" in index


def test_context_token_endpoint(host: Flask, state: EmulatorState) -> None:
    space = state.site.space_by_key("ENG")
    assert space is not None
    response = host.test_client().post(
        "/wiki/_emulator/context-token",
        json={
            "appKey": APP_KEY,
            "moduleKey": "report",
            "pageId": str(space.homepage_id),
            "spaceKey": "ENG",
            "accountId": USER_ACCOUNT_ID,
        },
    )
    claims = jwt.decode(response.get_json()["token"], SECRET, algorithms=["HS256"])
    assert claims["qsh"] == "context-qsh" and claims["sub"] == USER_ACCOUNT_ID
    assert claims["iss"] == state.site.client_key
    assert claims["context"]["confluence"]["content"]["id"] == str(space.homepage_id)
    assert claims["context"]["confluence"]["space"] == {"key": "ENG", "id": str(space.id)}
    assert "sharedSecret" not in response.get_data(as_text=True)
    bad = host.test_client().post("/wiki/_emulator/context-token", json={"appKey": "x", "accountId": "y"})
    assert bad.status_code == 400


def test_all_js_is_served(host: Flask) -> None:
    response = host.test_client().get("/atlassian-connect/all.js")
    assert response.status_code == 200 and "javascript" in response.content_type
    assert b"window.AP" in response.data


def test_viewer_switch_signs_admin_pages_as_the_viewer_and_keeps_the_query(host: Flask) -> None:
    client = host.test_client()
    url = f"/wiki/plugins/servlet/ac/{APP_KEY}/settings?space.key=HR"
    page = client.get(url + "&user=user").get_data(as_text=True)
    (src,) = _iframes(page)
    assert _verify_iframe_url(src)["sub"] == USER_ACCOUNT_ID
    assert dict(parse_qsl(urlsplit(src).query))["space"] == "HR"
    switches = dict(re.findall(r'data-viewer="(\w+)"\s+href="([^"]+)"', page))
    back = html.unescape(switches["admin"])
    assert dict(parse_qsl(urlsplit(back).query)) == {"space.key": "HR", "user": "admin"}
    (src,) = _iframes(client.get(back).get_data(as_text=True))
    assert _verify_iframe_url(src)["sub"] == ADMIN_ACCOUNT_ID
    assert 'data-viewer-account-id="' + ADMIN_ACCOUNT_ID in client.get(back).get_data(as_text=True)


def test_restricted_pages_are_hidden_from_a_viewer_who_may_not_read_them(
    host: Flask, state: EmulatorState
) -> None:
    site = state.site
    space = site.space_by_key("DOCS")
    assert space is not None
    # A restricted child of the home page that Una may not read (the seed restricts one in every space).
    restricted = next(
        site.content[i]
        for i in site.children[space.homepage_id]
        if (r := state.access.get(i)) is not None and USER_ACCOUNT_ID not in r.users
    )
    client = host.test_client()
    url = f"/wiki/spaces/DOCS/pages/{restricted.id}"
    assert client.get(url + "?user=admin").status_code == 200
    home_as_ada = client.get(_home_url(state)).get_data(as_text=True)
    assert html.escape(restricted.title) in home_as_ada
    assert client.get(url + "?user=user").status_code == 404
    home_as_una = client.get(_home_url(state)).get_data(as_text=True)
    assert html.escape(restricted.title) not in home_as_una
    assert html.escape(restricted.title) not in client.get("/wiki/").get_data(as_text=True)
