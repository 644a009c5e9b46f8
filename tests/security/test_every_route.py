"""Every URL the served descriptor names (modules of every type, their render modes, lifecycle), with
any method, refuses an unauthenticated request with 401 before doing any work, and carries the
security headers; then every route the app registers, descriptor or not, refuses a request without
a token.

Nothing here lists the app's URLs: they are read from ``GET /atlassian-connect.json`` and from the
app's URL map, so a new module or route is covered the day it is added.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.kit.atlassian import Site, qsh
from tests.kit.constants import APP_KEY
from tests.kit.store import snapshot
from tests.security.conftest import AppFactory, assert_security_headers

METHODS = ["GET", "POST", "PUT", "DELETE"]
#: (bad token, where it travels): the Authorization header or ``?jwt=``.
CASES = [
    ("no token", "nowhere"),
    ("wrong secret", "header"),
    ("wrong secret", "query"),
    ("unknown issuer", "header"),
    ("unknown issuer", "query"),
    ("alg none", "header"),
    ("alg none", "query"),
]
#: Endpoints that are public on purpose: Confluence fetches the descriptor before any install, static
#: assets hold no tenant data, and load balancers and orchestrators call the health endpoints without
#: credentials (they answer check names and fixed words only; see test_health_endpoints_reveal_nothing).
#: Anything else the app registers must refuse a missing token.
PUBLIC_ENDPOINTS = {"descriptor.serve", "static", "observability.healthz", "observability.readyz"}
#: A refusal must be quick: well under the install-keys timeout, and never a hang.
MAX_SECONDS = 2.0
_TEMPLATE = re.compile(r"\{[^{}]*\}")


def module_entries(descriptor: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield ``(where, url)`` for every lifecycle URL, module URL and render-mode URL."""
    for event, url in descriptor.get("lifecycle", {}).items():
        yield f"lifecycle.{event}", url
    for module_type, modules in descriptor.get("modules", {}).items():
        for module in modules if isinstance(modules, list) else [modules]:
            name = f"{module_type}[{module.get('key', '?')}]"
            if "url" in module:
                yield name, module["url"]
            for mode, render in module.get("renderModes", {}).items():
                yield f"{name}.renderModes.{mode}", render["url"]


def fill_template(url: str) -> str:
    """Replace every ``{context.variable}`` with a dummy value, as Confluence would fill it."""
    return _TEMPLATE.sub("x1", url)


def served_urls(client: FlaskClient) -> dict[str, str]:
    response = client.get("/atlassian-connect.json")
    assert response.status_code == 200
    return {where: fill_template(url) for where, url in module_entries(response.get_json())}


def bad_token(case: str, site: Site, method: str, url: str) -> str | None:
    """A token that must be refused: forged, from nobody, unsigned; ``None`` for no token at all."""
    if case == "no token":
        return None
    if case == "wrong secret":
        return site.host_token(method, url, secret="not-the-shared-secret-of-this-site-at-all")
    if case == "unknown issuer":
        return Site().host_token(method, url)
    assert case == "alg none"
    now = int(time.time())
    claims = {"iss": site.client_key, "iat": now, "exp": now + 180, "qsh": qsh(method, url), "sub": "u"}
    return jwt.encode(claims, None, algorithm="none")


def send(client: FlaskClient, method: str, url: str, token: str | None, place: str, body: Any) -> Any:
    headers = {}
    if token is None:
        pass
    elif place == "header":
        headers["Authorization"] = f"JWT {token}"
    else:
        url = f"{url}{'&' if '?' in url else '?'}jwt={token}"
    started = time.monotonic()
    response = client.open(url, method=method, json=body, headers=headers)
    elapsed = time.monotonic() - started
    assert elapsed < MAX_SECONDS, f"{method} {url} took {elapsed:.1f} s"
    return response


def test_the_walk_finds_lifecycle_macro_and_admin_page(client: FlaskClient) -> None:
    urls = served_urls(client)
    found = set(urls)
    assert {f"lifecycle.{e}" for e in ("installed", "uninstalled", "enabled", "disabled")} <= found
    assert any(w.startswith("dynamicContentMacros[") for w in found), found
    assert any(w.startswith("adminPages[") for w in found), found
    assert all(url.startswith("/") and "{" not in url for url in urls.values()), urls


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("case", "place"), CASES)
def test_every_descriptor_url_refuses_with_401(
    app: Flask, client: FlaskClient, installed_site: Site, case: str, place: str, method: str
) -> None:
    urls = served_urls(client)
    before = snapshot(app)
    failures = []
    for where, url in urls.items():
        event = where.removeprefix("lifecycle.") if where.startswith("lifecycle.") else "installed"
        body = installed_site.payload(event, app_key=APP_KEY)
        token = bad_token(case, installed_site, method, url)
        response = send(client, method, url, token, place, body)
        if response.status_code != 401:
            failures.append(f"{where}: {method} {url} -> {response.status_code}")
            continue
        assert response.headers["WWW-Authenticate"] == f'JWT realm="{APP_KEY}"', where
        assert_security_headers(response, config=app.config)
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and installed_site.shared_secret not in text, where
        assert token is None or token not in text, where
    assert not failures, "\n".join(failures)
    assert snapshot(app) == before


def _dummy_path(rule: str) -> str:
    """A concrete path for a Werkzeug rule such as ``/api/items/<int:item_id>``."""

    def value(match: re.Match[str]) -> str:
        converter = match.group(1) or "default"
        return "00000000-0000-4000-8000-000000000000" if converter == "uuid" else "1"

    return re.sub(r"<(?:([a-zA-Z_]+)(?:\([^)]*\))?:)?[a-zA-Z_][a-zA-Z0-9_]*>", value, rule)


def routes_answering_without_a_token(app: Flask) -> tuple[list[str], list[str]]:
    """Send every method of every non-public route without a token; return (checked, not 401)."""
    client = app.test_client()
    checked: list[str] = []
    failures: list[str] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = _dummy_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = send(client, method, path, None, "header", {"any": "body"})
            checked.append(f"{method} {path}")
            if response.status_code != 401:
                failures.append(f"{rule.endpoint}: {method} {path} -> {response.status_code}")
            else:
                assert_security_headers(response, config=app.config)
    return checked, failures


def test_every_registered_route_refuses_a_missing_token(app: Flask) -> None:
    """Default deny: a route that is not public on purpose must answer 401 to an unsigned call.

    This also covers routes that are not in the descriptor (the iframe's ``/api/…`` JSON calls).
    A route that should be public goes into PUBLIC_ENDPOINTS, with the reason, in review.
    """
    checked, failures = routes_answering_without_a_token(app)
    assert len(checked) >= 6, checked
    assert not failures, "routes answering without a token:\n" + "\n".join(failures)


def test_the_route_walk_catches_an_open_route(make_app: AppFactory) -> None:
    app = make_app()
    app.add_url_rule("/test-only/open/<int:item>", "test_only_open", lambda item: f"item {item}")
    _checked, failures = routes_answering_without_a_token(app)
    assert failures == ["test_only_open: GET /test-only/open/1 -> 200"]


def test_public_endpoints_exist(app: Flask) -> None:
    """The allow-list names real endpoints (a renamed one must not silently widen it)."""
    assert {rule.endpoint for rule in app.url_map.iter_rules()} >= PUBLIC_ENDPOINTS


def test_metrics_is_walked_and_refused_when_it_exists(make_app: AppFactory) -> None:
    """With APP_METRICS_TOKEN the route exists, and the walk checks that it refuses a missing token."""
    app = make_app(METRICS_TOKEN="m" * 32)
    checked, failures = routes_answering_without_a_token(app)
    assert "GET /metrics" in checked
    assert not failures, failures


def test_health_endpoints_reveal_nothing(app: Flask, client: FlaskClient, installed_site: Site) -> None:
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        body = response.get_json()
        assert set(body) <= {"status", "checks"}, body
        text = response.get_data(as_text=True)
        for secret in (installed_site.client_key, installed_site.base_url, installed_site.shared_secret):
            assert secret not in text, path
        assert app.config["DATABASE_URL"] not in text and "sqlite" not in text.lower(), path
        assert_security_headers(response, config=app.config)
