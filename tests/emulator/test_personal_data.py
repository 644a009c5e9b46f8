"""The personal data reporting API and closing or updating accounts through the control API."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator.people import DELETED_ACCOUNT_ID
from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID
from emulator.state import EmulatorState
from tests.emulator.conftest import Confluence, app_token, bearer_token

URI = "/app/report-accounts/"
ACTIVE_TEST = "5be24ad8b1653240376955d2"
CLOSED_TEST = "5be24ba3f91c106033269289"
BJORN = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000003"
WEEK = "604800"


def _report(
    emulator_client: FlaskClient, accounts: list[dict[str, Any]] | Any, uri: str = URI, **headers: str
) -> Any:
    headers.setdefault("Authorization", f"JWT {app_token('POST', uri)}")
    body = {"accounts": accounts} if isinstance(accounts, list) else accounts
    return emulator_client.post(uri, json=body, headers=headers)


def _account(account_id: str, updated_at: str = "2025-01-01T00:00:00.000Z") -> dict[str, str]:
    return {"accountId": account_id, "updatedAt": updated_at}


@pytest.fixture
def emulator_client(emulator_app: Flask) -> FlaskClient:
    return emulator_app.test_client()


def test_the_guides_test_accounts_and_an_empty_answer(emulator_client: FlaskClient) -> None:
    response = _report(
        emulator_client, [_account(ACTIVE_TEST), _account(CLOSED_TEST), _account(USER_ACCOUNT_ID)]
    )
    assert response.status_code == 200
    assert response.get_json() == {"accounts": [{"accountId": CLOSED_TEST, "status": "closed"}]}
    assert response.headers["Cycle-Period"] == WEEK
    nothing = _report(emulator_client, [_account(ACTIVE_TEST), _account(ADMIN_ACCOUNT_ID)])
    assert nothing.status_code == 204 and nothing.get_data() == b""
    assert nothing.headers["Cycle-Period"] == WEEK
    # The seeded deleted account is closed too.
    assert (
        _report(emulator_client, [_account(DELETED_ACCOUNT_ID)]).get_json()["accounts"][0]["status"]
        == "closed"
    )


def test_closed_and_updated_accounts_after_control_changes(
    emulator_client: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    response = emulator_client.post(
        f"/_emulator/accounts/{BJORN}/update", json={"at": "2025-03-01T00:00:00Z", "displayName": "Björn Ny"}
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "accountId": BJORN,
        "status": "updated",
        "since": "2025-03-01T00:00:00.000Z",
    }
    before, after = "2025-02-28T23:59:59.999Z", "2025-03-01T00:00:00.001Z"
    assert _report(emulator_client, [_account(BJORN, before)]).get_json() == {
        "accounts": [{"accountId": BJORN, "status": "updated"}]
    }
    assert (
        _report(emulator_client, [_account(BJORN, after)]).status_code == 204
    )  # the app already has the new data
    assert (
        _report(emulator_client, [_account(BJORN, "2025-03-01T01:00:00+01:00")]).status_code == 204
    )  # the same instant
    users = emulator_api.post("/wiki/api/v2/users-bulk", {"accountIds": [BJORN]}).get_json()["results"]
    assert users[0]["displayName"] == "Björn Ny"

    assert emulator_client.post(f"/_emulator/accounts/{USER_ACCOUNT_ID}/close").status_code == 200
    answer = _report(
        emulator_client, [_account(USER_ACCOUNT_ID, "2099-01-01T00:00:00Z"), _account(BJORN, before)]
    ).get_json()
    assert answer == {
        "accounts": [
            {"accountId": USER_ACCOUNT_ID, "status": "closed"},
            {"accountId": BJORN, "status": "updated"},
        ]
    }


def test_a_closed_account_looks_like_the_deleted_one_everywhere(
    emulator_app: Flask, emulator_client: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    token = bearer_token(emulator_app, USER_ACCOUNT_ID)
    assert emulator_api.get("/wiki/rest/api/user/current", token=token).status_code == 200
    assert emulator_client.post(f"/_emulator/accounts/{USER_ACCOUNT_ID}/close").status_code == 200
    user = emulator_api.post("/wiki/api/v2/users-bulk", {"accountIds": [USER_ACCOUNT_ID]}).get_json()[
        "results"
    ][0]
    assert (user["displayName"], user["publicName"], user["accountStatus"], user["email"]) == (
        "Former user",
        "Former user",
        "closed",
        "",
    )
    v1 = emulator_api.get(f"/wiki/rest/api/user?accountId={USER_ACCOUNT_ID}").get_json()
    assert v1["displayName"] == "Former user"
    # Its tokens stop working, and it can get no new ones.
    assert emulator_api.get("/wiki/rest/api/user/current", token=token).status_code == 401
    with pytest.raises(AssertionError):
        bearer_token(emulator_app, USER_ACCOUNT_ID)
    # A page it created names "Former user" on the host page.
    page = next(
        c
        for c in state.site.content.values()
        if c.kind == "page"
        and c.author_id == USER_ACCOUNT_ID
        and c.status == "current"
        and not state.access.all().get(c.id)
    )
    space = state.site.space(page.space_id)
    assert space is not None
    html = emulator_client.get(f"/wiki/spaces/{space.key}/pages/{page.id}").get_data(as_text=True)
    assert "written by Former user" in html and "Una User" not in html.split("written by")[1][:200]
    # Closing twice is a conflict; unknown accounts and app accounts are not site users.
    assert emulator_client.post(f"/_emulator/accounts/{USER_ACCOUNT_ID}/close").status_code == 409
    assert emulator_client.post(f"/_emulator/accounts/{USER_ACCOUNT_ID}/update").status_code == 409


def test_batch_limit_and_bad_bodies_are_400(emulator_client: FlaskClient, state: EmulatorState) -> None:
    ninety = [_account(f"id-{i}") for i in range(90)]
    assert _report(emulator_client, ninety).status_code == 204
    too_many = _report(emulator_client, [*ninety, _account("id-90")])
    assert too_many.status_code == 400 and "90" in too_many.get_json()["errors"][0]["detail"]
    for bad in (
        [],
        {"accounts": "x"},
        {"accounts": [_account("a")], "extra": 1},
        [{"accountId": "a"}],
        [{"accountId": "", "updatedAt": "2025-01-01T00:00:00Z"}],
        [{"accountId": 5, "updatedAt": "2025-01-01T00:00:00Z"}],
        [{"accountId": "a", "updatedAt": "yesterday"}],
        [{"accountId": "a", "updatedAt": "2025-01-01T00:00:00"}],  # no zone
        [{"accountId": "a", "updatedAt": 1735689600}],
        ["a"],
    ):
        response = _report(emulator_client, bad)
        assert response.status_code == 400, bad
        assert response.get_json()["errors"][0]["status"] == 400


def test_authentication_like_every_rest_call(emulator_client: FlaskClient) -> None:
    accounts = [_account(CLOSED_TEST)]
    assert _report(emulator_client, accounts, Authorization="").status_code == 401
    wrong_qsh = app_token("POST", "/app/report-accounts/other")
    assert _report(emulator_client, accounts, Authorization=f"JWT {wrong_qsh}").status_code == 401
    wrong_secret = app_token("POST", URI, secret="not-the-secret-but-long-enough-for-hs256-0123456789")
    assert _report(emulator_client, accounts, Authorization=f"JWT {wrong_secret}").status_code == 401
    # Under the Confluence baseUrl the path carries /wiki; the qsh is the same (context path excluded).
    wiki = _report(
        emulator_client,
        accounts,
        uri="/wiki/app/report-accounts/",
        Authorization=f"JWT {app_token('POST', URI)}",
    )
    assert wiki.status_code == 200
    no_slash = "/app/report-accounts"
    assert (
        _report(
            emulator_client, accounts, uri=no_slash, Authorization=f"JWT {app_token('POST', no_slash)}"
        ).status_code
        == 200
    )


def test_injected_429s_then_recovery_and_the_call_log(
    emulator_client: FlaskClient, state: EmulatorState
) -> None:
    assert emulator_client.post(
        "/_emulator/personal-data/faults", json={"count": 2, "retryAfter": 7}
    ).get_json() == {
        "count": 2,
        "retryAfter": 7,
    }
    for _ in range(2):
        limited = _report(emulator_client, [_account(CLOSED_TEST)])
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert emulator_client.get("/_emulator/personal-data/faults").get_json() == {"count": 0, "retryAfter": 7}
    assert _report(emulator_client, [_account(CLOSED_TEST)]).status_code == 200
    calls = emulator_client.get("/_emulator/personal-data/calls").get_json()["calls"]
    assert [c["status"] for c in calls] == [429, 429, 200]
    assert calls[2]["appKey"] == state.apps.all()[0].key and calls[2]["accounts"] == [_account(CLOSED_TEST)]
    assert calls[2]["answer"] == [{"accountId": CLOSED_TEST, "status": "closed"}]
    assert state.stats.snapshot()["routes"] == {"POST /app/report-accounts/": 3}
    emulator_client.post("/_emulator/personal-data/calls/clear")
    assert emulator_client.get("/_emulator/personal-data/calls").get_json() == {"calls": []}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_emulator/personal-data/faults", {"count": -1}, 400),
        ("/_emulator/personal-data/faults", {"count": 1001}, 400),
        ("/_emulator/personal-data/faults", {"count": True}, 400),
        ("/_emulator/personal-data/faults", {"count": 1, "retryAfter": "1"}, 400),
        ("/_emulator/personal-data/faults", {"retryAfter": 1}, 400),
        ("/_emulator/personal-data/faults", {"count": 1, "other": 1}, 400),
        (f"/_emulator/accounts/{BJORN}/close", {"at": "soon"}, 400),
        (f"/_emulator/accounts/{BJORN}/close", {"displayName": "x"}, 400),
        (f"/_emulator/accounts/{BJORN}/update", {"displayName": ""}, 400),
        (f"/_emulator/accounts/{BJORN}/update", {"email": 3}, 400),
        (f"/_emulator/accounts/{BJORN}/update", ["x"], 400),
        (f"/_emulator/accounts/{BJORN}/delete", {}, 404),
        ("/_emulator/accounts/557058:nobody/close", {}, 404),
        (f"/_emulator/accounts/{DELETED_ACCOUNT_ID}/close", {}, 409),
    ],
)
def test_bad_control_input_changes_nothing(
    emulator_client: FlaskClient, state: EmulatorState, path: str, body: Any, status: int
) -> None:
    users, faults = state.site.users, state.personal_data.faults()
    response = emulator_client.post(path, json=body)
    assert response.status_code == status and response.get_json()["error"]
    assert state.site.users == users and state.personal_data.faults() == faults
    assert state.personal_data.change(BJORN) is None
