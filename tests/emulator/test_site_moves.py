"""Site moves: a migration (new clientKey, same baseUrl, apps installed afresh) and a rename (new baseUrl,
same clientKey), against an app on loopback that verifies every signed install independently."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask

from emulator import cli
from emulator.state import emulator_state
from tests.emulator.conftest import app_token
from tests.kit.live import LiveServer

KEY = "com.example.fake"


def _install(emulator_url: str, app: Flask) -> dict[str, Any]:
    app.config["INSTALL_KEYS_URL"] = f"{emulator_url}/install-keys"
    response = requests.post(
        f"{emulator_url}/_emulator/apps",
        json={"descriptorUrl": f"{app.config['BASE_URL']}/atlassian-connect.json"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    summary: dict[str, Any] = response.json()
    return summary


def _rest(base_url: str, secret: str) -> requests.Response:
    uri = "/wiki/api/v2/spaces?limit=1"
    token = app_token("GET", uri, secret=secret, iss=KEY)
    origin = base_url.removesuffix("/wiki")
    return requests.get(origin + uri, headers={"Authorization": f"JWT {token}"}, timeout=10)


def _last_installed(app: Flask) -> tuple[dict[str, Any], dict[str, Any]]:
    event = app.config["EVENTS"][-1]
    assert event[0] == "installed" and len(event) == 3, event  # (event, claims, body): it verified
    return event[1], event[2]


def test_migrate_gives_a_new_client_key_and_a_new_installation(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    before = _install(server.url, app)
    old_key, old_secret = emulator_state(emulator_app).site.client_key, app.config["SECRET"]
    base_url = f"{server.url}/wiki"

    response = requests.post(
        f"{server.url}/_emulator/site/migrate", json={"clientKey": "emulator-imported-1"}, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["clientKey"] == "emulator-imported-1" and body["previousClientKey"] == old_key
    assert body["baseUrl"] == base_url and body["failed"] == []
    [after] = body["apps"]
    assert after["installationId"] != before["installationId"]
    assert after["oauthClientId"] != before["oauthClientId"]

    claims, payload = _last_installed(app)
    assert claims["iss"] == payload["clientKey"] == "emulator-imported-1"
    assert payload["baseUrl"] == base_url and payload["sharedSecret"] != old_secret
    assert payload["installationId"] == after["installationId"]
    assert _rest(base_url, old_secret).status_code == 401  # the old installation is gone
    assert _rest(base_url, payload["sharedSecret"]).status_code == 200
    assert (
        requests.get(f"{server.url}/_emulator/site", timeout=5).json()["clientKey"] == "emulator-imported-1"
    )

    # Without a clientKey the emulator makes one up (a new one each time).
    again = requests.post(f"{server.url}/_emulator/site/migrate", timeout=30).json()
    assert again["previousClientKey"] == "emulator-imported-1"
    assert again["clientKey"].startswith(f"emulator-{server.port}-") and again["clientKey"] != old_key


def test_migrate_drops_an_app_that_refuses_the_new_install(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    server, _ = live_emulator
    _, app = fake
    _install(server.url, app)
    app.config["FAIL_INSTALL"] = True
    body = requests.post(f"{server.url}/_emulator/site/migrate", timeout=30).json()
    assert body["apps"] == [] and [f["key"] for f in body["failed"]] == [KEY]
    assert "500" in body["failed"][0]["error"]
    assert requests.get(f"{server.url}/_emulator/apps", timeout=5).json() == {"apps": []}


def test_rename_keeps_the_client_key_and_sends_installed_with_the_new_base_url(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    before = _install(server.url, app)
    state = emulator_state(emulator_app)
    client_key, secret = state.site.client_key, app.config["SECRET"]
    new_base = f"http://localhost:{server.port}/wiki"

    response = requests.post(f"{server.url}/_emulator/site/rename", json={"baseUrl": new_base}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "baseUrl": new_base,
        "previousBaseUrl": f"{server.url}/wiki",
        "clientKey": client_key,
        "notified": [KEY],
        "failed": [],
    }
    claims, payload = _last_installed(app)
    assert claims["iss"] == payload["clientKey"] == client_key
    assert payload["baseUrl"] == payload["displayUrl"] == new_base
    assert payload["sharedSecret"] == secret and payload["installationId"] == before["installationId"]
    # The site answers under its new name, and says so in its links.
    answer = _rest(new_base, secret)
    assert answer.status_code == 200 and answer.json()["_links"]["base"] == new_base
    # And back again.
    back = requests.post(
        f"{server.url}/_emulator/site/rename", json={"baseUrl": f"{server.url}/wiki"}, timeout=30
    )
    assert back.status_code == 200 and _last_installed(app)[1]["baseUrl"] == f"{server.url}/wiki"


@pytest.mark.parametrize(
    "body",
    [
        {"baseUrl": "https://localhost:PORT/wiki"},
        {"baseUrl": "http://localhost:1/wiki"},
        {"baseUrl": "http://localhost:PORT/confluence"},
        {"baseUrl": "http://example.com:PORT/wiki"},
        {"baseUrl": "http://localhost:PORT/wiki?x=1"},
        {"baseUrl": "http://user@localhost:PORT/wiki"},
        {"baseUrl": "http://localhost:99999999/wiki"},
        {"baseUrl": "http://127.0.0.1:PORT/wiki"},  # the current one
        {"baseUrl": 5},
        {"baseUrl": "http://localhost:PORT/wiki", "extra": 1},
        {},
    ],
)
def test_bad_renames_change_nothing(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask], body: dict[str, Any]
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    _install(server.url, app)
    events = len(app.config["EVENTS"])
    body = {k: v.replace("PORT", str(server.port)) if isinstance(v, str) else v for k, v in body.items()}
    response = requests.post(f"{server.url}/_emulator/site/rename", json=body, timeout=30)
    assert response.status_code == 400 and response.json()["error"]
    assert emulator_state(emulator_app).site.base_url == f"{server.url}/wiki"
    assert len(app.config["EVENTS"]) == events


@pytest.mark.parametrize(
    "body", [{"clientKey": ""}, {"clientKey": "bad key!"}, {"clientKey": 7}, {"other": 1}]
)
def test_bad_migrations_change_nothing(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask], body: dict[str, Any]
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    _install(server.url, app)
    state = emulator_state(emulator_app)
    client_key, record = state.site.client_key, state.apps.get(KEY)
    response = requests.post(f"{server.url}/_emulator/site/migrate", json=body, timeout=30)
    assert response.status_code == 400 and response.json()["error"]
    assert state.site.client_key == client_key and state.apps.get(KEY) == record


def test_cli_migrate_and_rename(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    _install(server.url, app)
    assert cli.main(["migrate", "--emulator", server.url, "--client-key", "emulator-cli-1"]) == 0
    assert emulator_state(emulator_app).site.client_key == "emulator-cli-1"
    assert (
        cli.main(["rename", "--emulator", server.url, "--base-url", f"http://localhost:{server.port}/wiki"])
        == 0
    )
    assert emulator_state(emulator_app).site.base_url == f"http://localhost:{server.port}/wiki"
    assert cli.main(["rename", "--emulator", server.url, "--base-url", "http://elsewhere/wiki"]) == 1
