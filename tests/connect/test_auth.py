"""Inbound JWT on module routes: what is accepted, and everything that must be refused with a 401."""

from __future__ import annotations

import time
from urllib.parse import quote

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.kit.atlassian import AWKWARD_QUERY, Atlassian, Site, generate_rsa_key, qsh, relative_url
from tests.kit.confluence import FakeConfluence
from tests.kit.constants import APP_KEY
from tests.kit.store import snapshot

ROUTES = ["/macros/freshness", "/admin/freshness"]
IFRAME_PARAMS = [
    ("pageId", "98310"),
    ("spaceKey", "DOCS"),
    ("xdm_e", "https://acme.atlassian.net"),
    ("xdm_c", "channel-com.example__freshness-report"),
    ("cp", "/wiki"),
    ("lic", "none"),
    ("cv", "1001.0.0-SNAPSHOT"),
]


@pytest.mark.parametrize("route", ROUTES)
def test_product_signed_url_is_accepted(client: FlaskClient, installed_site: Site, route: str) -> None:
    response = client.get(installed_site.signed_url(route, IFRAME_PARAMS + AWKWARD_QUERY))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Content freshness" in response.get_data(as_text=True)


def test_token_in_the_authorization_header_is_accepted(client: FlaskClient, installed_site: Site) -> None:
    url = relative_url("/macros/freshness", IFRAME_PARAMS)
    token = installed_site.host_token("GET", url)
    assert client.get(url, headers={"Authorization": f"JWT {token}"}).status_code == 200


def test_raw_percent_encoded_query_is_accepted(app: Flask, installed_site: Site) -> None:
    # Confluence may encode "~" as "%7E" and spaces as "+": the qsh decodes before re-encoding.
    url = "/macros/freshness?spaceKey=DOCS&q=in+%7E3+days&cp=%2Fwiki"
    token = installed_site.host_token("GET", url)
    response = app.test_client().get(url + "&jwt=" + token)
    assert response.status_code == 200


def _none_token(site: Site, url: str) -> str:
    now = int(time.time())
    claims = {"iss": site.client_key, "iat": now, "exp": now + 180, "qsh": qsh("GET", url)}
    return jwt.encode(claims, None, algorithm="none")


def _refusals(site: Site, url: str) -> dict[str, str]:
    now = int(time.time())
    good_claims = {"iss": site.client_key, "iat": now, "exp": now + 180, "qsh": qsh("GET", url), "sub": "u"}
    without = {
        name: {k: v for k, v in good_claims.items() if k != name} for name in ("qsh", "exp", "iss", "iat")
    }
    return {
        "wrong secret": site.host_token("GET", url, secret="not-the-shared-secret-not-the-shared"),
        "unknown issuer": Site().host_token("GET", url),
        "expired": site.host_token("GET", url, now=now - 3600),
        "issued in the future": site.host_token("GET", url, now=now + 3600),
        "qsh of another url": site.host_token("GET", "/admin/freshness?pageId=1"),
        "qsh of another method": site.host_token("POST", url),
        "context qsh": site.context_token(),
        "missing qsh": jwt.encode(without["qsh"], site.shared_secret, algorithm="HS256"),
        "missing exp": jwt.encode(without["exp"], site.shared_secret, algorithm="HS256"),
        "missing iss": jwt.encode(without["iss"], site.shared_secret, algorithm="HS256"),
        "missing iat": jwt.encode(without["iat"], site.shared_secret, algorithm="HS256"),
        "exp not a number": jwt.encode(
            good_claims | {"exp": "tomorrow"}, site.shared_secret, algorithm="HS256"
        ),
        "alg none": _none_token(site, url),
        "hs512": jwt.encode(good_claims, site.shared_secret, algorithm="HS512"),
        "rs256": jwt.encode(good_claims, generate_rsa_key(), algorithm="RS256"),
        "garbage": "garbage",
        "three garbage parts": "a.b.c",
        "60 KB token": site.host_token("GET", url, padding="x" * 60_000),
        "empty": "",
    }


REFUSALS = list(_refusals(Site(), "/x").keys())


@pytest.mark.parametrize("case", REFUSALS)
@pytest.mark.parametrize("route", ROUTES)
def test_bad_tokens_are_refused_with_401(
    app: Flask, client: FlaskClient, installed_site: Site, route: str, case: str
) -> None:
    url = relative_url(route, IFRAME_PARAMS)
    token = _refusals(installed_site, url)[case]
    before = snapshot(app)
    response = client.get(f"{url}&jwt={quote(token)}")
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == f'JWT realm="{APP_KEY}"'
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and installed_site.shared_secret not in body
    if token:
        assert token not in body
    assert snapshot(app) == before


@pytest.mark.parametrize("route", ROUTES)
def test_missing_token_is_refused(client: FlaskClient, installed_site: Site, route: str) -> None:
    response = client.get(relative_url(route, IFRAME_PARAMS))
    assert response.status_code == 401
    assert "no JWT" in response.get_data(as_text=True)


def test_query_changed_after_signing_is_refused(client: FlaskClient, installed_site: Site) -> None:
    signed = installed_site.signed_url("/macros/freshness", IFRAME_PARAMS)
    assert client.get(signed).status_code == 200
    assert client.get(signed.replace("pageId=98310", "pageId=98311")).status_code == 401
    assert client.get(signed + "&extra=1").status_code == 401
    assert client.get(signed.replace("lic=none", "lic=active")).status_code == 401


def test_two_different_tokens_are_refused(client: FlaskClient, installed_site: Site) -> None:
    url = relative_url("/macros/freshness", IFRAME_PARAMS)
    good = installed_site.host_token("GET", url)
    other = installed_site.host_token("GET", url, sub="someone-else")
    response = client.get(f"{url}&jwt={good}", headers={"Authorization": f"JWT {other}"})
    assert response.status_code == 401


def test_token_of_one_site_naming_another_is_refused(
    client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    from tests.conftest import install

    other_confluence = FakeConfluence().start()
    try:
        other = Site(
            base_url=other_confluence.base_url,
            on_install=lambda s: other_confluence.register(APP_KEY, s.shared_secret),
        )
        assert install(client, atlassian, other).status_code == 204
        url = relative_url("/macros/freshness", IFRAME_PARAMS)
        forged = other.host_token("GET", url, secret=installed_site.shared_secret)
        assert client.get(f"{url}&jwt={forged}").status_code == 401
        page = client.get(other.signed_url("/macros/freshness", IFRAME_PARAMS))
        assert page.status_code == 200, page.get_data(as_text=True)
        own = client.get(installed_site.signed_url("/macros/freshness", IFRAME_PARAMS))
        assert own.status_code == 200
        # Each site's report names its own emulator's content.
        assert other_confluence.state.site.name != "" and page.get_data() != own.get_data()
    finally:
        other_confluence.stop()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_other_methods_without_a_token_are_401(
    client: FlaskClient, installed_site: Site, method: str
) -> None:
    response = client.open("/macros/freshness", method=method)
    assert response.status_code == 401


def test_an_app_with_an_unauthenticated_route_refuses_to_start(app_overrides: dict) -> None:
    from flask import Blueprint

    import app as app_package
    from app.connect.auth import enforce_authentication

    application = app_package.create_app(app_overrides)
    open_bp = Blueprint("oops", __name__)
    open_bp.add_url_rule("/oops", "oops", lambda: "open")
    application.register_blueprint(open_bp)
    with pytest.raises(RuntimeError, match=r"routes without authentication: oops\.oops"):
        enforce_authentication(application)
    from app.db import get_engine

    get_engine(application).dispose()


def test_two_tokens_in_the_query_are_refused(client: FlaskClient, installed_site: Site) -> None:
    signed = installed_site.signed_url("/macros/freshness", IFRAME_PARAMS)
    assert client.get(signed).status_code == 200
    token = signed.split("jwt=", 1)[1]
    response = client.get(f"{signed}&jwt={token}")
    assert response.status_code == 401
    assert "more than one token" in response.get_data(as_text=True)


@pytest.fixture
def args_app(app: Flask) -> Flask:
    """A route that answers ``request.args`` as the view sees it and as Werkzeug parses it afresh."""
    from flask import jsonify, request
    from werkzeug.wrappers import Request

    from app.connect.auth import require_jwt

    @require_jwt()
    def args_echo() -> object:
        # Before anything reads request.args: did authentication hand its parse over?
        shared = "args" in request._get_current_object().__dict__  # type: ignore[attr-defined]
        own = Request(request.environ).args  # a new request object: Werkzeug's own parse
        return jsonify(
            seen=list(request.args.items(multi=True)), werkzeug=list(own.items(multi=True)), shared=shared
        )

    app.add_url_rule("/__args", "args_echo", args_echo)
    return app


@pytest.mark.parametrize(
    "raw_query",
    [
        "spaceKey=DOCS&rows=10&cp=%2Fwiki",
        "title=caf%C3%A9+menu&empty=&bare&x=1&x=2",
        "q=%E5%AE%AE%E5%B4%8E&plus=a%2Bb&amp=%26",
    ],
)
def test_request_args_reuse_the_qsh_parse_and_equal_werkzeug_s_own(
    args_app: Flask, installed_site: Site, raw_query: str
) -> None:
    url = f"/__args?{raw_query}"
    token = installed_site.host_token("GET", url)
    body = args_app.test_client().get(f"{url}&jwt={token}").get_json()
    assert body["shared"] is True
    assert body["seen"] == body["werkzeug"] and ["jwt", token] in body["seen"]


def test_a_query_that_is_not_utf8_is_left_to_werkzeug(args_app: Flask, installed_site: Site) -> None:
    url = "/__args?name=%FF%FEbad&rows=10"
    token = installed_site.host_token("GET", url)
    body = args_app.test_client().get(f"{url}&jwt={token}").get_json()
    assert body["shared"] is False
    assert body["seen"] == body["werkzeug"]
    assert ["name", "%FF%FEbad"] in body["seen"]  # Werkzeug keeps undecodable bytes percent-encoded
