"""Debug is refused in production however it is switched on; and the app sets no cookie (if Flask's
session ever did, the cookie would be Secure, HttpOnly and SameSite=None)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from flask import session

from app import create_app
from app.config import ConfigError
from tests.kit.database import fresh_database_url
from tests.kit.processes import BIN, app_env, flask, free_port, running
from tests.security.conftest import AppFactory, assert_security_headers

SECRETS_KEYS = Fernet.generate_key().decode()
PRODUCTION = {
    "PRODUCTION": True,
    "BASE_URL": "https://app.example.test",
    "SECRET_KEY": "k" * 32,
    "SECRETS_KEYS": SECRETS_KEYS,
}


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return app_env(
        {
            "APP_PRODUCTION": "true",
            "APP_BASE_URL": "https://app.example.test",
            "APP_SECRET_KEY": "k" * 32,
            "APP_SECRETS_KEYS": SECRETS_KEYS,
            "APP_DATABASE_URL": fresh_database_url(tmp_path),
            **extra,
        }
    )


def test_flask_debug_in_the_environment_stops_create_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in production_env(tmp_path).items():
        if name.startswith("APP_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="refusing to start in production with debug on"):
        create_app()


@pytest.mark.parametrize("debug_args", [["--debug"], []])
def test_flask_run_with_debug_refuses_to_start(tmp_path: Path, debug_args: list[str]) -> None:
    env = production_env(tmp_path) | ({} if debug_args else {"FLASK_DEBUG": "1"})
    result = flask(*debug_args, "run", "--port", str(free_port()), env=env, timeout=30)
    assert result.returncode != 0
    assert "refusing to start in production with debug on" in result.stderr


def test_flask_run_with_the_debugger_serves_nothing_in_production(tmp_path: Path) -> None:
    # ``--debugger`` wraps the app in Werkzeug's interactive debugger without setting debug, after
    # create_app has run: the start-up check cannot see it, the per-request guard does.
    port = free_port()
    url = f"http://127.0.0.1:{port}/atlassian-connect.json"
    command = [str(BIN / "flask"), "--app", "app", "run", "--debugger", "--no-reload", "--port", str(port)]
    with running(command, env=production_env(tmp_path), probe_url=url):
        response = requests.get(url, timeout=5)
    assert response.status_code == 503
    assert "Traceback" not in response.text and "baseUrl" not in response.text


def test_debug_switched_on_after_create_app_refuses_every_request(make_app: AppFactory) -> None:
    app = make_app(**PRODUCTION)
    app.debug = True  # what app.run(debug=True) does
    client = app.test_client()
    for path in ("/atlassian-connect.json", "/macros/freshness", "/no-such-page"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert_security_headers(response, config=app.config)


def test_the_interactive_debugger_is_detected(make_app: AppFactory) -> None:
    client = make_app(**PRODUCTION).test_client()
    environ = {"werkzeug.debug.preserve_context": lambda _context: None}
    assert client.get("/atlassian-connect.json", environ_base=environ).status_code == 503
    assert client.get("/atlassian-connect.json").status_code == 200


def test_debug_outside_production_is_allowed(make_app: AppFactory) -> None:
    app = make_app()
    app.debug = True
    assert app.test_client().get("/atlassian-connect.json").status_code == 200


def test_the_session_cookie_would_be_secure_httponly_samesite_none(make_app: AppFactory) -> None:
    app = make_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "None"

    def writes_session() -> Any:
        session["probe"] = "1"
        return "ok"

    app.add_url_rule("/test-only/session", "test_only_session", writes_session)
    cookie = app.test_client().get("/test-only/session").headers["Set-Cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite=none"} <= attributes


def test_no_response_sets_a_cookie(make_app: AppFactory) -> None:
    # The route walk in test_every_route.py checks every refusal; here the public and error paths.
    client = make_app().test_client()
    for path in ("/atlassian-connect.json", "/no-such-page", "/macros/freshness", "/lifecycle/installed"):
        assert "Set-Cookie" not in client.get(path).headers
