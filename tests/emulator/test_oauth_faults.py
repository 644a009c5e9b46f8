"""OAuth 2.0 JWT-bearer grant, bearer-authenticated REST calls, and injected faults."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from flask import Flask

from emulator.oauth import ATLASSIAN_AUDIENCE, GRANT_TYPE
from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID
from emulator.state import EmulatorState
from tests.emulator.conftest import PORT, SECRET, Confluence
from tests.kit.constants import APP_KEY

ORIGIN = f"http://127.0.0.1:{PORT}"


def _assertion(**overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": f"urn:atlassian:connect:clientid:oauth-{APP_KEY}",
        "sub": f"urn:atlassian:connect:useraccountid:{USER_ACCOUNT_ID}",
        "tnt": f"{ORIGIN}/wiki",
        "aud": ATLASSIAN_AUDIENCE,
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    secret = str(claims.pop("secret", SECRET))
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


def _token(emulator_app: Flask, assertion: str, scope: str | None = None) -> Any:
    form = {"grant_type": GRANT_TYPE, "assertion": assertion}
    if scope is not None:
        form["scope"] = scope
    return emulator_app.test_client().post("/oauth2/token", data=form)


def test_bearer_token_acts_as_the_user(emulator_app: Flask) -> None:
    response = _token(emulator_app, _assertion(), "READ")
    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == 900 and body["token_type"] == "Bearer"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    client = emulator_app.test_client()
    assert client.get("/wiki/api/v2/spaces?limit=2", headers=headers).status_code == 200
    me = client.get("/wiki/rest/api/user/current?expand=operations", headers=headers).get_json()
    assert me["accountId"] == USER_ACCOUNT_ID
    assert client.get("/wiki/api/v2/spaces", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_emulator_origin_is_an_accepted_audience(emulator_app: Flask) -> None:
    sub = f"urn:atlassian:connect:useraccountid:{ADMIN_ACCOUNT_ID}"
    assert _token(emulator_app, _assertion(aud=ORIGIN, sub=sub)).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret": "another-secret-that-is-also-long-enough-1234"},
        {"iss": "urn:atlassian:connect:clientid:unknown"},
        {"iss": APP_KEY},
        {"sub": "urn:atlassian:connect:useraccountid:557058:nobody"},
        {"sub": USER_ACCOUNT_ID},
        {"tnt": ORIGIN},
        {"aud": "https://auth.example.com"},
        {"exp": int(time.time()) - 600, "iat": int(time.time()) - 660},
        {"exp": int(time.time()) + 3600},
        {"tnt": None},
    ],
)
def test_bad_assertions_are_oauth_400s(emulator_app: Flask, overrides: dict[str, Any]) -> None:
    response = _token(emulator_app, _assertion(**overrides))
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_grant", "invalid_client"}


def test_scope_must_be_declared(emulator_app: Flask) -> None:
    assert _token(emulator_app, _assertion(), "READ WRITE").get_json()["error"] == "invalid_scope"
    bad_grant = emulator_app.test_client().post("/oauth2/token", data={"grant_type": "password"})
    assert bad_grant.get_json()["error"] == "unsupported_grant_type"


def test_faults_inject_429_with_retry_after(emulator_app: Flask, emulator_api: Confluence) -> None:
    client = emulator_app.test_client()
    settings = client.post("/_emulator/faults", json={"fault429Rate": 1.0, "retryAfter": 7}).get_json()
    assert settings["fault429Rate"] == 1.0
    response = emulator_api.get("/wiki/api/v2/spaces")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.get_json()["errors"][0]["status"] == 429
    # Host pages, install keys and control endpoints are never faulted.
    assert client.get("/wiki/").status_code == 200
    assert client.get("/_emulator/stats").status_code == 200
    client.post("/_emulator/faults", json={"fault429Rate": 0.0, "fault5xxRate": 1.0})
    assert emulator_api.get("/wiki/api/v2/spaces").status_code == 503
    client.post("/_emulator/faults", json={"fault5xxRate": 0.0})
    assert emulator_api.get("/wiki/api/v2/spaces").status_code == 200


def test_fault_sequence_is_repeatable(
    emulator_app: Flask, emulator_api: Confluence, state: EmulatorState
) -> None:
    client = emulator_app.test_client()

    def run() -> list[int]:
        client.post("/_emulator/faults", json={"fault429Rate": 0.3})
        return [emulator_api.get("/wiki/api/v2/spaces").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second and 429 in first and 200 in first


def test_bad_fault_settings_are_400(emulator_app: Flask) -> None:
    client = emulator_app.test_client()
    assert client.post("/_emulator/faults", json={"fault429Rate": 2}).status_code == 400
    assert client.post("/_emulator/faults", json={"bogus": 1}).status_code == 400
    assert client.get("/_emulator/faults").get_json()["fault429Rate"] == 0.0
