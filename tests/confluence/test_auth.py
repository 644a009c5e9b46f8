"""Unit tests of the auth hooks: the Connect JWT signer is judged by PyJWT and atlassian-jwt."""

from __future__ import annotations

import jwt
import pytest
import requests
from atlassian_jwt.url_utils import hash_url

from app.confluence.auth import BearerAuth, ConnectJWTAuth
from app.confluence.client import query

SECRET = "a-tenant-shared-secret-that-is-long-enough"
BASE = "https://acme.atlassian.net/wiki"


def sign(
    method: str, url: str, params: dict[str, str] | None = None, now: float = 1_700_000_000
) -> tuple[requests.PreparedRequest, dict[str, object]]:
    auth = ConnectJWTAuth(app_key="my.app", shared_secret=SECRET, base_url=BASE, clock=lambda: now)
    prepared = requests.Request(method, url, params=params, auth=auth).prepare()
    header = prepared.headers["Authorization"]
    assert header.startswith("JWT ")
    claims = jwt.decode(header[4:], SECRET, algorithms=["HS256"], options={"verify_exp": False})
    return prepared, claims


def test_claims_are_iss_iat_exp_and_qsh_with_a_short_life() -> None:
    _, claims = sign("GET", f"{BASE}/api/v2/pages", {"limit": "250"})
    assert claims["iss"] == "my.app"
    assert claims["iat"] == 1_700_000_000 and claims["exp"] == 1_700_000_180
    assert "sub" not in claims


@pytest.mark.parametrize(
    ("method", "url", "params"),
    [
        ("GET", f"{BASE}/api/v2/pages", query(space_id=["1", "2"], limit=250)),
        ("GET", f"{BASE}/api/v2/pages", {"title": "Plans: 1 + 1 = 3 ~ *ok*", "body-format": "storage"}),
        ("GET", f"{BASE}/api/v2/spaces/1/pages?cursor=eyJpZCI6MX0=&depth=all&limit=100", None),
        ("POST", f"{BASE}/rest/api/content/1/label", None),
        ("GET", f"{BASE}/rest/api/user", {"accountId": "5b10:ac8d-82e4", "expand": "operations"}),
    ],
)
def test_qsh_matches_atlassian_for_exactly_what_goes_on_the_wire(
    method: str, url: str, params: dict[str, str] | None
) -> None:
    prepared, claims = sign(method, url, params)
    wire = prepared.url or ""
    relative = wire[len("https://acme.atlassian.net/wiki") :]
    assert claims["qsh"] == hash_url(method, relative)
    assert claims["qsh"] != hash_url(method, "/wiki" + relative)  # /wiki is not part of it


def test_comma_lists_are_hashed_as_one_value_as_sent() -> None:
    prepared, claims = sign("GET", f"{BASE}/api/v2/pages", query(space_id=[1, 2]))
    assert prepared.url == f"{BASE}/api/v2/pages?space-id=1%2C2"
    assert claims["qsh"] == hash_url("GET", "/api/v2/pages?space-id=1%2C2")
    assert claims["qsh"] != hash_url("GET", "/api/v2/pages?space-id=1&space-id=2")


def test_each_request_gets_its_own_token() -> None:
    _, first = sign("GET", f"{BASE}/api/v2/pages", {"limit": "1"})
    _, second = sign("GET", f"{BASE}/api/v2/pages", {"limit": "2"}, now=1_700_000_001)
    assert first["qsh"] != second["qsh"] and first["iat"] != second["iat"]


def test_repr_never_shows_the_secret() -> None:
    auth = ConnectJWTAuth(app_key="my.app", shared_secret=SECRET, base_url=BASE)
    assert SECRET not in repr(auth) and SECRET not in str(auth)


def test_bearer_auth_asks_for_the_token_each_time_and_hides_it() -> None:
    tokens = iter(["t-1", "t-2"])
    auth = BearerAuth(lambda: next(tokens))
    first = requests.Request("GET", f"{BASE}/api/v2/pages", auth=auth).prepare()
    second = requests.Request("GET", f"{BASE}/api/v2/pages", auth=auth).prepare()
    assert first.headers["Authorization"] == "Bearer t-1"
    assert second.headers["Authorization"] == "Bearer t-2"
    assert "t-" not in repr(auth)


def test_query_drops_none_joins_lists_and_kebab_cases() -> None:
    assert query(space_id=[1, "2"], body_format="storage", title=None, depth=3, flag=True) == {
        "space-id": "1,2",
        "body-format": "storage",
        "depth": "3",
        "flag": "true",
    }
