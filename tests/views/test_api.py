"""The "Show more" endpoint: context JWT only, and only the scope the macro page was given."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from flask.testing import FlaskClient

from app.reports.model import ReportScope
from app.views.scope_tokens import sign_scope
from tests.kit.atlassian import Site
from tests.views.conftest import EmulatorControl, run_jobs

MACRO_PARAMS = {"spaceKey": "DOCS", "rows": "5"}


def rendered_scope(client: FlaskClient, site: Site) -> str:
    """The scope token of a macro page whose report is ready (its first scan run by the jobs)."""
    client.get(site.signed_url("/macros/freshness", MACRO_PARAMS))
    run_jobs(client.application)
    body = client.get(site.signed_url("/macros/freshness", MACRO_PARAMS)).get_data(as_text=True)
    assert 'id="item-rows"' in body
    match = re.search(r'data-scope="([^"]+)"', body)
    assert match
    return match.group(1)


def items(
    client: FlaskClient, site: Site, scope: str, token: str | None = None, **params: str
) -> tuple[int, dict]:
    token = token if token is not None else site.context_token()
    response = client.get(
        "/api/freshness/items",
        query_string={"scope": scope, **params},
        headers={"Authorization": f"JWT {token}"},
    )
    return response.status_code, response.get_json()


def test_show_more_continues_where_the_macro_stopped(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    scope = rendered_scope(client, installed_site)
    status, page = items(client, installed_site, scope, offset="5", limit="5")
    assert status == 200
    assert len(page["items"]) == 5 and page["offset"] == 5 and page["next"] == 10
    dates = [item["updatedAt"] for item in page["items"]]
    assert dates == sorted(dates)
    ids: list[str] = []
    offset: str | None = "0"
    while offset is not None:  # page to the end: every row once, oldest first, then no next
        status, chunk = items(client, installed_site, scope, offset=offset, limit="7")
        assert status == 200
        ids += [item["id"] for item in chunk["items"]]
        offset = None if chunk["next"] is None else str(chunk["next"])
    assert len(ids) == len(set(ids)) > 10
    # The same viewer's macro with room for every row lists exactly these, in this order.
    body = client.get(
        installed_site.signed_url("/macros/freshness", {**MACRO_PARAMS, "rows": "100"})
    ).get_data(as_text=True)
    assert re.findall(r'<a href="[^"]*/pages/(\d+)', body.split('id="item-rows"')[1]) == ids


def test_show_more_makes_no_scan_call_within_the_ttl(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    scope = rendered_scope(client, installed_site)
    emulator_control.reset()
    assert items(client, installed_site, scope, offset="5")[0] == 200
    routes = emulator_control.stats()["routes"]
    # The viewer's answer for these rows is still fresh; at most the new rows' editors are looked up.
    assert emulator_control.list_calls() == 0
    assert sum(routes.values()) <= 1 and set(routes) <= {"POST /wiki/api/v2/users-bulk"}


def test_a_computed_qsh_token_is_refused(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    scope = rendered_scope(client, installed_site)
    token = installed_site.host_token("GET", f"/api/freshness/items?scope={scope}")
    assert items(client, installed_site, scope, token=token)[0] == 401


@pytest.mark.parametrize("case", ["missing", "garbage", "other tenant", "expired", "not a scope token"])
def test_scope_must_come_from_a_rendered_macro(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl, case: str
) -> None:
    scope = ReportScope("DOCS")
    now = int(time.time())
    tokens = {
        "missing": "",
        "garbage": "xyz",
        "other tenant": sign_scope(
            scope, client_key="someone-else", secret=installed_site.shared_secret, now=now
        ),
        "expired": sign_scope(
            scope, client_key=installed_site.client_key, secret=installed_site.shared_secret, now=now - 7200
        ),
        "not a scope token": installed_site.context_token(),
    }
    status, body = items(client, installed_site, tokens[case])
    assert status == 403, body
    assert body["message"]


@pytest.mark.parametrize(
    ("name", "value"), [("offset", "-1"), ("offset", "x"), ("limit", "0"), ("limit", "101")]
)
def test_bad_paging_is_a_400(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl, name: str, value: str
) -> None:
    scope = rendered_scope(client, installed_site)
    status, body = items(client, installed_site, scope, **{name: value})
    assert status == 400 and name in body["message"]


def test_no_token_is_a_401(client: FlaskClient) -> None:
    response = client.get("/api/freshness/items")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_scope_tokens_are_shared_within_a_second_and_follow_the_secret() -> None:
    from app.reports.model import ReportScope
    from app.views.scope_tokens import verify_scope

    scope, now = ReportScope("DOCS"), 1_800_000_000
    first = sign_scope(scope, client_key="t1", secret="a" * 32, now=now)
    assert sign_scope(scope, client_key="t1", secret="a" * 32, now=now) == first
    renewed = sign_scope(scope, client_key="t1", secret="b" * 32, now=now)
    assert renewed != first
    assert verify_scope(renewed, client_key="t1", secret="b" * 32, now=now) == scope
    later = sign_scope(scope, client_key="t1", secret="a" * 32, now=now + 1)
    assert later != first
    assert (
        jwt.decode(later, "a" * 32, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})[
            "iat"
        ]
        == now + 1
    )
