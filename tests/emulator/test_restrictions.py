"""Read restrictions: seeded ones, inheritance, every read path per caller, the control and v1 routes.

Who may read what is recomputed here from the restriction list the control API reports and the page tree,
with the rule written out independently (named account or group, on the page and every ancestor).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from emulator.people import app_account_id
from emulator.server import create_app
from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID, Content
from emulator.state import EmulatorState, emulator_state
from tests.emulator.conftest import APP_KEY, NOW, PORT, Confluence, bearer_token, register_app

APP_ACCOUNT = app_account_id(APP_KEY)
# Group membership as docs/emulator.md states it.
MEMBERS = {
    ADMIN_ACCOUNT_ID: {"site-admins", "confluence-users"},
    USER_ACCOUNT_ID: {"confluence-users"},
    APP_ACCOUNT: {"atlassian-addons-admin"},
}


@pytest.fixture
def restrictions(emulator_app: Flask) -> dict[int, dict[str, list[str]]]:
    body = emulator_app.test_client().get("/_emulator/restrictions").get_json()
    return {int(r["id"]): r["read"] for r in body["restrictions"]}


def passes(account: str, rule: dict[str, list[str]]) -> bool:
    return account in rule["users"] or bool(MEMBERS[account] & set(rule["groups"]))


def readable(
    state: EmulatorState, rules: dict[int, dict[str, list[str]]], account: str, item: Content
) -> bool:
    current: Content | None = item
    while current is not None:
        rule = rules.get(current.id)
        if rule is not None and not passes(account, rule):
            return False
        current = state.site.content[current.parent_id] if current.parent_id is not None else None
    return True


def walk(emulator_api: Confluence, uri: str, token: str | None) -> list[list[dict[str, Any]]]:
    """Every page of a list, following ``Link: rel="next"`` verbatim; returns the pages' results."""
    pages = []
    while True:
        response = emulator_api.get(uri, token=token)
        assert response.status_code == 200, response.get_data(as_text=True)
        pages.append(response.get_json()["results"])
        nxt = response.get_json()["_links"].get("next")
        if nxt is None:
            return pages
        uri = nxt


@pytest.fixture
def tokens(emulator_app: Flask) -> dict[str, str | None]:
    return {
        "ada": bearer_token(emulator_app, ADMIN_ACCOUNT_ID),
        "una": bearer_token(emulator_app, USER_ACCOUNT_ID),
        "app": None,
    }


ACCOUNTS = {"ada": ADMIN_ACCOUNT_ID, "una": USER_ACCOUNT_ID, "app": APP_ACCOUNT}


def test_seed_restricts_pages_in_every_space_deterministically(
    state: EmulatorState, restrictions: dict[int, dict[str, list[str]]]
) -> None:
    again = emulator_state(create_app(port=PORT, seed=7, now=NOW)).access.all()
    assert {i: r.to_json() for i, r in again.items()} == restrictions
    for space in state.site.spaces:
        mine = {i: r for i, r in restrictions.items() if state.site.content[i].space_id == space.id}
        pages = [i for i in mine if state.site.content[i].kind == "page"]
        assert space.homepage_id not in mine
        hidden_from_una = [i for i in pages if not passes(USER_ACCOUNT_ID, mine[i])]
        assert len(hidden_from_una) >= 2 and all(passes(ADMIN_ACCOUNT_ID, mine[i]) for i in pages)
        # One restricted page has children, so inheritance matters in every space.
        assert any(state.site.children.get(i) for i in hidden_from_una)
        app_cannot = [i for i in mine if not passes(APP_ACCOUNT, mine[i])]
        assert bool(app_cannot) is (space.key != "DOCS")


@pytest.mark.parametrize("who", ["ada", "una", "app"])
def test_single_gets_follow_the_restrictions_of_page_and_ancestors(
    emulator_api: Confluence,
    state: EmulatorState,
    restrictions: dict[int, dict[str, list[str]]],
    tokens: dict[str, str | None],
    who: str,
) -> None:
    token, account = tokens[who], ACCOUNTS[who]
    seen = {True: 0, False: 0}
    for item in state.site.content.values():
        if item.status != "current":
            continue
        kind = "pages" if item.kind == "page" else "blogposts"
        expected = readable(state, restrictions, account, item)
        status = emulator_api.get(f"/wiki/api/v2/{kind}/{item.id}", token=token).status_code
        assert status == (200 if expected else 404), (who, item.id, item.title)
        seen[expected] += 1
        if item.kind == "page":
            labels = emulator_api.get(f"/wiki/api/v2/pages/{item.id}/labels", token=token).status_code
            assert labels == status
    assert seen[True] > 0 and (seen[False] > 0) is (who != "ada")


@pytest.mark.parametrize("who", ["una", "app"])
@pytest.mark.parametrize("uri", ["/wiki/api/v2/pages?limit=7&sort=title", "/wiki/api/v2/blogposts?limit=2"])
def test_lists_deliver_every_readable_item_once_in_full_pages(
    emulator_api: Confluence,
    state: EmulatorState,
    restrictions: dict[int, dict[str, list[str]]],
    tokens: dict[str, str | None],
    who: str,
    uri: str,
) -> None:
    kind = "page" if "/pages" in uri else "blogpost"
    limit = int(dict(p.split("=") for p in urlsplit(uri).query.split("&"))["limit"])
    pages = walk(emulator_api, uri, tokens[who])
    got = [r["id"] for page in pages for r in page]
    expected = {
        str(c.id)
        for c in state.site.content.values()
        if c.kind == kind
        and c.status in ("current", "archived")
        and readable(state, restrictions, ACCOUNTS[who], c)
    }
    assert len(got) == len(set(got)) and set(got) == expected
    assert all(len(page) == limit for page in pages[:-1]) and 0 < len(pages[-1]) <= limit
    everything = {str(c.id) for c in state.site.content.values() if c.kind == kind}
    assert expected < everything  # the caller really misses something


def test_hierarchy_routes_drop_what_una_cannot_read(
    emulator_api: Confluence,
    state: EmulatorState,
    restrictions: dict[int, dict[str, list[str]]],
    tokens: dict[str, str | None],
) -> None:
    site = state.site
    restricted = next(
        i for i, r in restrictions.items() if site.children.get(i) and not passes(USER_ACCOUNT_ID, r)
    )
    parent = site.content[restricted].parent_id
    assert parent is not None
    child = site.children[restricted][0]
    for token, visible in ((tokens["una"], False), (tokens["ada"], True), (None, True)):
        kids = emulator_api.get(f"/wiki/api/v2/pages/{parent}/direct-children?limit=250", token=token)
        assert (str(restricted) in {r["id"] for r in kids.get_json()["results"]}) is visible
        below = emulator_api.get(f"/wiki/api/v2/pages/{parent}/descendants?depth=10&limit=250", token=token)
        ids = {r["id"] for r in below.get_json()["results"]}
        assert (str(restricted) in ids) is visible and (str(child) in ids) is visible
        direct = emulator_api.get(f"/wiki/api/v2/pages/{child}", token=token).status_code
        assert direct == (200 if visible else 404)


def test_pages_by_id_returns_only_readable_ones_and_allows_250(
    emulator_api: Confluence,
    state: EmulatorState,
    restrictions: dict[int, dict[str, list[str]]],
    tokens: dict[str, str | None],
) -> None:
    ids = sorted(i for i, c in state.site.content.items() if c.kind == "page")[:249]
    query = ",".join(map(str, [*ids, 123]))
    for who in ("una", "app"):
        results = [
            r
            for page in walk(emulator_api, f"/wiki/api/v2/pages?id={query}&limit=250", tokens[who])
            for r in page
        ]
        expected = {
            str(i)
            for i in ids
            if state.site.content[i].status in ("current", "archived")
            and readable(state, restrictions, ACCOUNTS[who], state.site.content[i])
        }
        assert {r["id"] for r in results} == expected and len(results) == len(expected)
    too_many = ",".join(str(1_000_001 + n) for n in range(251))
    assert emulator_api.get(f"/wiki/api/v2/pages?id={too_many}").status_code == 400
    blogs = ",".join(str(i) for i, c in state.site.content.items() if c.kind == "blogpost")
    seen = emulator_api.get(f"/wiki/api/v2/blogposts?id={blogs}&limit=250", token=tokens["una"]).get_json()
    assert 0 < len(seen["results"]) < blogs.count(",") + 1


def test_control_route_sets_and_removes_restrictions(
    emulator_app: Flask, emulator_api: Confluence, state: EmulatorState, tokens: dict[str, str | None]
) -> None:
    control = emulator_app.test_client()
    site = state.site
    # A page no restriction touches (its own, an ancestor's or its first child's).
    page = next(
        i
        for i, c in site.content.items()
        if c.kind == "page"
        and c.status == "current"
        and site.children.get(i)
        and site.content[site.children[i][0]].status == "current"
        and not any(state.access.get(a.id) for a in [*site.ancestors(c), c])
        and state.access.get(site.children[i][0]) is None
    )
    child = site.children[page][0]
    url = f"/_emulator/pages/{page}/restrictions"
    response = control.post(url, json={"users": [USER_ACCOUNT_ID], "groups": ["site-admins"]})
    assert response.status_code == 200
    assert response.get_json()["read"] == {"users": [USER_ACCOUNT_ID], "groups": ["site-admins"]}
    assert emulator_api.get(f"/wiki/api/v2/pages/{child}").status_code == 404  # the app: inherited
    assert emulator_api.get(f"/wiki/api/v2/pages/{child}", token=tokens["una"]).status_code == 200
    assert emulator_api.get(f"/wiki/api/v2/pages/{page}", token=tokens["ada"]).status_code == 200
    # Bad input: 400 with a message, and the restriction is unchanged.
    for bad in (
        {"users": ["557058:nobody"]},
        {"users": "not-a-list"},
        {"groups": ["no-such-group"]},
        {"readers": []},
        ["a list"],
    ):
        refused = control.post(url, json=bad)
        assert refused.status_code == 400 and refused.get_json()["error"], bad
        assert control.get(url).get_json()["read"]["users"] == [USER_ACCOUNT_ID]
    assert control.post("/_emulator/pages/42/restrictions", json={}).status_code == 404
    # The app's own account can be named; an empty body removes the restriction.
    assert control.post(url, json={"users": [APP_ACCOUNT]}).status_code == 200
    assert emulator_api.get(f"/wiki/api/v2/pages/{child}").status_code == 200
    assert emulator_api.get(f"/wiki/api/v2/pages/{child}", token=tokens["una"]).status_code == 404
    removed = control.post(url)
    assert removed.status_code == 200 and removed.get_json()["read"] == {"users": [], "groups": []}
    assert emulator_api.get(f"/wiki/api/v2/pages/{child}", token=tokens["una"]).status_code == 200


def test_v1_restriction_endpoint_shows_the_page_own_read_restriction(
    emulator_api: Confluence,
    state: EmulatorState,
    restrictions: dict[int, dict[str, list[str]]],
    tokens: dict[str, str | None],
) -> None:
    site = state.site
    team = next(
        i for i, r in restrictions.items() if site.children.get(i) and r["users"] == [ADMIN_ACCOUNT_ID]
    )
    uri = f"/wiki/rest/api/content/{team}/restriction/byOperation/read"
    body = emulator_api.get(uri).get_json()
    assert body["operation"] == "read"
    assert [u["accountId"] for u in body["restrictions"]["user"]["results"]] == [ADMIN_ACCOUNT_ID]
    assert [g["name"] for g in body["restrictions"]["group"]["results"]] == ["atlassian-addons-admin"]
    assert body["restrictions"]["user"]["size"] == 1 and body["_links"]["base"] == site.base_url
    assert emulator_api.get(uri, token=tokens["una"]).status_code == 404
    # A child inherits the restriction but has none of its own, which is what the endpoint lists.
    child = site.children[team][0]
    inherited = emulator_api.get(f"/wiki/rest/api/content/{child}/restriction/byOperation/read").get_json()
    assert (
        inherited["restrictions"]["user"]["results"] == [] and inherited["restrictions"]["group"]["size"] == 0
    )
    assert (
        emulator_api.get(f"/wiki/rest/api/content/{team}/restriction/byOperation/delete").status_code == 400
    )


def test_app_bot_user_and_users_current(emulator_app: Flask, emulator_api: Confluence) -> None:
    me = emulator_api.get("/wiki/rest/api/user/current").get_json()
    assert me["accountId"] == APP_ACCOUNT and me["accountType"] == "app"
    apps = emulator_app.test_client().get("/_emulator/apps").get_json()["apps"]
    assert apps[0]["accountId"] == APP_ACCOUNT
    other = create_app(port=PORT, seed=7, now=NOW)
    register_app(emulator_state(other))
    assert emulator_state(other).apps.all()[0].summary()["accountId"] == APP_ACCOUNT
