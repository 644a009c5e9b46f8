"""Fixtures for emulator tests; free of app/ imports (tests/kit/confluence.py imports only the emulator)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from atlassian_jwt.url_utils import hash_url
from flask import Flask
from flask.testing import FlaskClient

from emulator.apps import AppRecord
from emulator.server import create_app
from emulator.state import EmulatorState, emulator_state
from tests.emulator.fake_app import BASE_PATH, make_fake_app
from tests.kit.confluence import register_app as kit_register_app
from tests.kit.constants import APP_KEY
from tests.kit.live import LiveServer, serving
from tests.kit.processes import free_port

NOW = 1_750_000_000.0
PORT = 8999
SECRET = "a-test-shared-secret-that-is-long-enough-0123456789"


def register_app(
    state: EmulatorState,
    key: str = APP_KEY,
    secret: str = SECRET,
    scopes: tuple[str, ...] = ("READ", "ACT_AS_USER"),
    base_url: str = "http://127.0.0.1:1",
    modules: dict[str, Any] | None = None,
) -> AppRecord:
    """Put an app straight into the registry, skipping the lifecycle (for REST and host-page tests)."""
    return kit_register_app(
        state,
        key=key,
        secret=secret,
        base_url=base_url,
        scopes=scopes,
        modules=modules,
        lifecycle="/installed",
    )


def app_token(
    method: str,
    uri: str,
    *,
    secret: str = SECRET,
    iss: str = APP_KEY,
    lifetime: int = 180,
    qsh: str | None = None,
    now: float | None = None,
) -> str:
    """An app-to-Confluence JWT for ``uri`` (site-relative, with ``/wiki``), signed like ACE does."""
    relative = uri.removeprefix("/wiki")
    iat = int(time.time() if now is None else now)
    claims = {
        "iss": iss,
        "iat": iat,
        "exp": iat + lifetime,
        "qsh": qsh if qsh is not None else hash_url(method, relative),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer_token(emulator_app: Flask, account_id: str) -> str:
    """An OAuth access token from the emulator's ``/oauth2/token`` acting as ``account_id``."""
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": f"urn:atlassian:connect:clientid:oauth-{APP_KEY}",
            "sub": f"urn:atlassian:connect:useraccountid:{account_id}",
            "tnt": f"http://127.0.0.1:{PORT}/wiki",
            "aud": f"http://127.0.0.1:{PORT}",
            "iat": now,
            "exp": now + 60,
        },
        SECRET,
        algorithm="HS256",
    )
    response = emulator_app.test_client().post(
        "/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    token: str = response.get_json()["access_token"]
    return token


class Confluence:
    """Calls the emulator's REST API through the Flask test client: as the app (a correctly signed JWT),
    or with ``token=`` as the user an OAuth bearer token names."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def _auth(self, method: str, uri: str, token: str | None) -> str:
        return f"Bearer {token}" if token is not None else f"JWT {app_token(method, uri)}"

    def get(self, uri: str, *, token: str | None = None, **headers: str) -> Any:
        headers.setdefault("Authorization", self._auth("GET", uri, token))
        return self.client.get(uri, headers=headers)

    def post(self, uri: str, body: Any, *, token: str | None = None) -> Any:
        return self.client.post(uri, json=body, headers={"Authorization": self._auth("POST", uri, token)})


@pytest.fixture
def emulator_app() -> Flask:
    """An emulator app (not listening) with a fixed seed and clock, and one registered app."""
    app = create_app(port=PORT, seed=7, now=NOW)
    register_app(emulator_state(app))
    return app


@pytest.fixture
def state(emulator_app: Flask) -> EmulatorState:
    return emulator_state(emulator_app)


@pytest.fixture
def emulator_api(emulator_app: Flask) -> Confluence:
    return Confluence(emulator_app.test_client())


@pytest.fixture
def live_emulator() -> Iterator[tuple[LiveServer, Flask]]:
    """An emulator listening on a loopback port of its own (its base URL names that port)."""
    port = free_port()
    app = create_app(port=port, seed=11)
    server = LiveServer(app, port).start()
    try:
        yield server, app
    finally:
        server.stop()


@pytest.fixture
def fake() -> Iterator[tuple[LiveServer, Flask]]:
    """The fake Connect app (``fake_app.py``) served on loopback, its ``BASE_URL`` under ``BASE_PATH``."""
    app = make_fake_app()
    with serving(app) as server:
        app.config["BASE_URL"] = f"{server.url}{BASE_PATH}"
        yield server, app


def leaf_page(state: EmulatorState, space_key: str = "DOCS") -> int:
    """A current page with no children, not the home page, that the app may read."""
    space = state.site.space_by_key(space_key)
    assert space is not None
    restricted = set(state.access.all())
    for page_id in state.site.pages_by_space[space.id]:
        page = state.site.content[page_id]
        if (
            page.status == "current"
            and page_id != space.homepage_id
            and not state.site.children.get(page_id)
            and page_id not in restricted
        ):
            return page_id
    raise AssertionError("no leaf")
