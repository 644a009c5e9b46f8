"""Install, enable, disable, reinstall and uninstall against an app on loopback that checks every token."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask

from emulator import cli
from emulator.state import emulator_state
from tests.emulator.conftest import app_token
from tests.kit.live import LiveServer


def _install(emulator_url: str, app: Flask) -> requests.Response:
    app.config["INSTALL_KEYS_URL"] = f"{emulator_url}/install-keys"
    descriptor_url = f"{app.config['BASE_URL']}/atlassian-connect.json"
    return requests.post(f"{emulator_url}/_emulator/apps", json={"descriptorUrl": descriptor_url}, timeout=30)


def _events(app: Flask) -> list[Any]:
    events: list[Any] = app.config["EVENTS"]
    return events


def _rest_status(emulator_url: str, secret: str, key: str = "com.example.fake") -> int:
    uri = "/wiki/api/v2/spaces?limit=1"
    token = app_token("GET", uri, secret=secret, iss=key)
    return requests.get(emulator_url + uri, headers={"Authorization": f"JWT {token}"}, timeout=10).status_code


def test_install_keys_route(live_emulator: tuple[LiveServer, Flask]) -> None:
    server, app = live_emulator
    kid = emulator_state(app).signing_key.kid
    response = requests.get(f"{server.url}/install-keys/{kid}", timeout=5)
    assert response.status_code == 200 and response.text.startswith("-----BEGIN PUBLIC KEY-----")
    assert requests.get(f"{server.url}/install-keys/unknown-kid", timeout=5).status_code == 404


def test_install_sends_a_verifiable_signed_install(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    response = _install(server.url, app)
    assert response.status_code == 201, response.text
    assert "sharedSecret" not in response.text
    event, claims, body = _events(app)[0]
    site = emulator_state(emulator_app).site
    assert event == "installed"
    assert claims["aud"] == app.config["BASE_URL"] and claims["iss"] == site.client_key
    assert claims["exp"] - claims["iat"] <= 300
    assert body["baseUrl"] == body["displayUrl"] == site.base_url == f"{server.url}/wiki"
    assert body["productType"] == "confluence" and body["key"] == "com.example.fake"
    assert set(body) >= {
        "sharedSecret",
        "oauthClientId",
        "installationId",
        "serverVersion",
        "pluginsVersion",
        "description",
    }
    apps = requests.get(f"{server.url}/_emulator/apps", timeout=5).json()["apps"]
    assert [a["key"] for a in apps] == ["com.example.fake"]
    assert _rest_status(server.url, body["sharedSecret"]) == 200


def test_failed_install_is_reported_and_not_registered(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    app.config["FAIL_INSTALL"] = True
    response = _install(server.url, app)
    assert response.status_code == 502
    assert "500" in response.json()["error"] and "install refused by test" in response.json()["error"]
    assert emulator_state(emulator_app).apps.all() == []


def test_bad_descriptor_is_a_clear_400(live_emulator: tuple[LiveServer, Flask]) -> None:
    server, _ = live_emulator
    response = requests.post(
        f"{server.url}/_emulator/apps", json={"descriptorUrl": f"{server.url}/_emulator/site"}, timeout=10
    )
    assert response.status_code == 400 and "key" in response.json()["error"]


def test_enable_disable_reinstall_uninstall(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    server, _ = live_emulator
    _, app = fake
    assert _install(server.url, app).status_code == 201
    first_secret = app.config["SECRET"]
    control = f"{server.url}/_emulator/apps/com.example.fake"

    assert requests.post(f"{control}/disable", timeout=10).json()["enabled"] is False
    assert _events(app)[-1][0] == "disabled" and len(_events(app)[-1]) == 3, _events(app)[-1]
    assert _rest_status(server.url, first_secret) == 401
    assert requests.post(f"{control}/enable", timeout=10).json()["enabled"] is True
    assert _events(app)[-1][0] == "enabled"
    assert _rest_status(server.url, first_secret) == 200

    assert requests.post(f"{control}/reinstall", timeout=30).status_code == 200
    assert _events(app)[-1][0] == "installed"
    assert app.config["SECRET"] != first_secret
    assert _rest_status(server.url, first_secret) == 401
    assert _rest_status(server.url, app.config["SECRET"]) == 200

    assert requests.post(f"{control}/uninstall", timeout=10).status_code == 200
    assert _events(app)[-1][0] == "uninstalled" and len(_events(app)[-1]) == 3
    assert _rest_status(server.url, app.config["SECRET"]) == 401
    assert requests.post(f"{control}/enable", timeout=10).status_code == 404


def test_cli_subcommands_drive_the_control_api(
    live_emulator: tuple[LiveServer, Flask],
    fake: tuple[LiveServer, Flask],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, emulator_app = live_emulator
    _, app = fake
    app.config["INSTALL_KEYS_URL"] = f"{server.url}/install-keys"
    descriptor = f"{app.config['BASE_URL']}/atlassian-connect.json"
    assert cli.main(["install", "--emulator", server.url, descriptor]) == 0
    assert cli.main(["disable", "--emulator", server.url, "--app-key", "com.example.fake"]) == 0
    assert cli.main(["apps", "--emulator", server.url]) == 0
    assert '"enabled": false' in capsys.readouterr().out
    assert cli.main(["uninstall", "--emulator", server.url, "--app-key", "com.example.fake"]) == 0
    assert cli.main(["uninstall", "--emulator", server.url, "--app-key", "com.example.fake"]) == 1
    assert emulator_state(emulator_app).apps.all() == []


def test_install_at_startup_retries_until_the_app_answers(
    live_emulator: tuple[LiveServer, Flask], fake: tuple[LiveServer, Flask]
) -> None:
    import time

    server, emulator_app = live_emulator
    _, app = fake
    app.config["INSTALL_KEYS_URL"] = f"{server.url}/install-keys"
    cli._install_when_ready(
        server.url, f"{app.config['BASE_URL']}/atlassian-connect.json", time.monotonic() + 10
    )
    assert [a.key for a in emulator_state(emulator_app).apps.all()] == ["com.example.fake"]
