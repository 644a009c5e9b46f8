"""``POST /wiki/api/v2/users-bulk`` and the seeded editors it resolves (awkward names, deleted, unknown)."""

from __future__ import annotations

import pytest
from flask import Flask

from emulator.people import DELETED_ACCOUNT_ID, UNKNOWN_ACCOUNT_ID, app_account_id
from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID
from emulator.state import EmulatorState
from tests.emulator.conftest import APP_KEY, Confluence, app_token, bearer_token

URI = "/wiki/api/v2/users-bulk"
ZOE = "712020:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000005"
LI = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000006"


def test_known_deleted_unknown_and_app_accounts(emulator_api: Confluence, state: EmulatorState) -> None:
    ids = [LI, UNKNOWN_ACCOUNT_ID, ZOE, DELETED_ACCOUNT_ID, ZOE, app_account_id(APP_KEY), ADMIN_ACCOUNT_ID]
    response = emulator_api.post(URI, {"accountIds": ids})
    assert response.status_code == 200
    body = response.get_json()
    got = [(u["accountId"], u["displayName"], u["accountType"], u["accountStatus"]) for u in body["results"]]
    # In the order asked, each once; the unknown account is simply absent.
    assert got == [
        (LI, "李小龍 (Lǐ Xiǎolóng)", "atlassian", "active"),
        (ZOE, 'Zoë "Zed" <b>Ng</b> & Co', "atlassian", "active"),
        (DELETED_ACCOUNT_ID, "Former user", "atlassian", "closed"),
        (app_account_id(APP_KEY), APP_KEY, "app", "active"),
        (ADMIN_ACCOUNT_ID, "Ada Admin", "atlassian", "active"),
    ]
    deleted = body["results"][2]
    assert deleted["email"] == "" and deleted["publicName"] == "Former user"
    assert body["_links"] == {"base": state.site.base_url}
    assert response.headers["Link"] == f'<{state.site.base_url}>; rel="base"'
    assert emulator_api.post(URI, {"accountIds": [UNKNOWN_ACCOUNT_ID]}).get_json()["results"] == []


def test_limits_and_bad_bodies_are_400(emulator_api: Confluence) -> None:
    assert emulator_api.post(URI, {"accountIds": [USER_ACCOUNT_ID] * 250}).status_code == 200
    for body in (
        {"accountIds": [f"557058:{n}" for n in range(251)]},
        {"accountIds": []},
        {"accountIds": "557058:1"},
        {"accountIds": [1, 2]},
        {"ids": [USER_ACCOUNT_ID]},
        [USER_ACCOUNT_ID],
    ):
        response = emulator_api.post(URI, body)
        assert response.status_code == 400, body
        assert response.get_json()["errors"][0]["status"] == 400


def test_authenticated_and_counted_like_every_route(emulator_app: Flask, emulator_api: Confluence) -> None:
    client = emulator_app.test_client()
    assert client.post(URI, json={"accountIds": [USER_ACCOUNT_ID]}).status_code == 401
    # A JWT whose qsh was computed for GET does not authorise the POST.
    wrong = client.post(
        URI,
        json={"accountIds": [USER_ACCOUNT_ID]},
        headers={"Authorization": f"JWT {app_token('GET', URI)}"},
    )
    assert wrong.status_code == 401
    client.post("/_emulator/stats/reset")
    token = bearer_token(emulator_app, USER_ACCOUNT_ID)
    assert emulator_api.post(URI, {"accountIds": [USER_ACCOUNT_ID]}, token=token).status_code == 200
    assert emulator_api.post(URI, {"accountIds": [USER_ACCOUNT_ID]}).status_code == 200
    stats = client.get("/_emulator/stats").get_json()
    assert stats["routes"] == {"POST /wiki/api/v2/users-bulk": 2} and stats["total"] == 2


@pytest.mark.parametrize("route", ["pages", "blogposts"])
def test_seeded_editors_include_awkward_deleted_and_unknown_accounts(
    emulator_api: Confluence, state: EmulatorState, route: str
) -> None:
    editors = {
        r["version"]["authorId"]
        for r in emulator_api.get(f"/wiki/api/v2/{route}?limit=250").get_json()["results"]
    }
    if route == "pages":
        assert {ZOE, LI, DELETED_ACCOUNT_ID, UNKNOWN_ACCOUNT_ID} <= editors
    resolved = emulator_api.post(URI, {"accountIds": sorted(editors)}).get_json()["results"]
    assert {u["accountId"] for u in resolved} == editors - {UNKNOWN_ACCOUNT_ID}


def test_deleted_account_cannot_get_a_token_and_v1_shows_former_user(
    emulator_app: Flask, emulator_api: Confluence
) -> None:
    with pytest.raises(AssertionError):
        bearer_token(emulator_app, DELETED_ACCOUNT_ID)
    body = emulator_api.get(f"/wiki/rest/api/user?accountId={DELETED_ACCOUNT_ID}").get_json()
    assert body["displayName"] == "Former user" and body["email"] == ""
    assert emulator_api.get(f"/wiki/rest/api/user?accountId={UNKNOWN_ACCOUNT_ID}").status_code == 404
