"""REST v2: shapes, Confluence pagination semantics, parameter validation and authentication."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask

from emulator.server import create_app
from emulator.state import EmulatorState, emulator_state
from tests.emulator.conftest import NOW, PORT, Confluence, app_token, register_app
from tests.kit.constants import APP_KEY

BASE = f"http://127.0.0.1:{PORT}/wiki"


def _space_id(emulator_api: Confluence, key: str) -> str:
    body = emulator_api.get(f"/wiki/api/v2/spaces?keys={key}").get_json()
    space_id: str = body["results"][0]["id"]
    return space_id


def _follow(
    emulator_api: Confluence, first: str, max_pages: int = 500
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Follow ``Link: rel=next`` verbatim (joined to the origin, never to ``base``) and collect results."""
    results: list[dict[str, Any]] = []
    responses = []
    uri: str | None = first
    for _ in range(max_pages):
        if uri is None:
            return results, responses
        response = emulator_api.get(uri)
        assert response.status_code == 200, response.get_json()
        responses.append(response)
        results.extend(response.get_json()["results"])
        match = re.search(r'<([^>]+)>; rel="next"', response.headers["Link"])
        uri = match.group(1) if match else None
    raise AssertionError("pagination did not end")


def test_spaces_are_seeded_with_home_pages(emulator_api: Confluence) -> None:
    body = emulator_api.get("/wiki/api/v2/spaces").get_json()
    keys = {s["key"] for s in body["results"]}
    assert {"DOCS", "ENG", "HR"} <= keys
    space = body["results"][0]
    assert set(space) >= {"id", "key", "name", "type", "status", "homepageId", "_links"}
    assert isinstance(space["id"], str) and space["_links"]["webui"] == f"/spaces/{space['key']}"


def test_pagination_visits_every_page_exactly_once(emulator_api: Confluence, state: EmulatorState) -> None:
    space_id = _space_id(emulator_api, "DOCS")
    results, responses = _follow(emulator_api, f"/wiki/api/v2/spaces/{space_id}/pages?depth=all&limit=7")
    ids = [r["id"] for r in results]
    assert len(ids) == len(set(ids))
    expected = {
        str(i)
        for i in state.site.pages_by_space[int(space_id)]
        if state.site.content[i].status in ("current", "archived")
    }
    assert set(ids) == expected
    assert len(responses) == -(-len(expected) // 7)


def test_next_link_repeats_params_and_cursor_is_not_last(emulator_api: Confluence) -> None:
    space_id = _space_id(emulator_api, "DOCS")
    response = emulator_api.get(f"/wiki/api/v2/spaces/{space_id}/pages?depth=all&body-format=storage&limit=5")
    body = response.get_json()
    nxt = body["_links"]["next"]
    assert body["_links"]["base"] == BASE
    assert nxt.startswith(f"/wiki/api/v2/spaces/{space_id}/pages?") and "/wiki/wiki" not in nxt
    names = [k for k, _ in parse_qsl(urlsplit(nxt).query)]
    assert names[-1] != "cursor" and names.count("cursor") == 1
    assert dict(parse_qsl(urlsplit(nxt).query)) | {"cursor": "x"} == {
        "cursor": "x",
        "depth": "all",
        "body-format": "storage",
        "limit": "5",
    }
    cursor = dict(parse_qsl(urlsplit(nxt).query))["cursor"]
    assert cursor.endswith("=")
    assert response.headers["Link"] == f'<{nxt}>; rel="next", <{BASE}>; rel="base"'
    assert "storage" in body["results"][0]["body"]


def test_last_page_has_only_base_link(emulator_api: Confluence) -> None:
    response = emulator_api.get("/wiki/api/v2/spaces?limit=250")
    assert response.headers["Link"] == f'<{BASE}>; rel="base"'
    assert "next" not in response.get_json()["_links"]


def test_page_shape(emulator_api: Confluence, state: EmulatorState) -> None:
    page = next(c for c in state.site.content.values() if c.title.startswith("Release <script>"))
    body = emulator_api.get(f"/wiki/api/v2/pages/{page.id}").get_json()
    assert body["id"] == str(page.id) and body["title"] == page.title
    assert set(body) >= {
        "status",
        "spaceId",
        "parentId",
        "parentType",
        "position",
        "authorId",
        "ownerId",
        "createdAt",
        "version",
        "_links",
    }
    assert "body" not in body
    assert set(body["version"]) >= {"createdAt", "message", "number", "minorEdit", "authorId"}
    assert body["_links"]["webui"].startswith(f"/spaces/DOCS/pages/{page.id}/")


def test_dates_spread_over_years(state: EmulatorState) -> None:
    ages = [(NOW - c.modified_at) / 86_400 for c in state.site.content.values() if c.kind == "page"]
    assert min(ages) < 30 and max(ages) > 365


def test_same_seed_same_site_and_ports_differ() -> None:
    a, b = create_app(port=9001, now=NOW), create_app(port=9001, now=NOW)
    c = create_app(port=9002, now=NOW)
    sa, sb, sc = (emulator_state(x).site for x in (a, b, c))
    assert [x.title for x in sa.content.values()] == [x.title for x in sb.content.values()]
    assert sa.client_key == sb.client_key != sc.client_key
    assert sa.client_key.startswith("emulator-9001-")
    assert sa.name != sc.name
    assert [x.modified_at for x in sa.content.values()] != [x.modified_at for x in sc.content.values()]


def test_large_site_builds_quickly() -> None:
    started = time.perf_counter()
    app = create_app(port=9003, pages=10_000, now=NOW)
    assert time.perf_counter() - started < 2.0
    site = emulator_state(app).site
    assert len(site.pages_by_space[site.spaces[0].id]) == 10_000


def test_filters_and_sorts(emulator_api: Confluence) -> None:
    space_id = _space_id(emulator_api, "ENG")
    titles = [
        p["title"]
        for p in emulator_api.get(f"/wiki/api/v2/pages?space-id={space_id}&sort=-title&limit=250").get_json()[
            "results"
        ]
    ]
    assert titles == sorted(titles, reverse=True)
    found = emulator_api.get("/wiki/api/v2/pages?title=Onboarding").get_json()["results"]
    assert [p["title"] for p in found] == ["Onboarding"]
    roots = emulator_api.get(f"/wiki/api/v2/spaces/{space_id}/pages?depth=root").get_json()["results"]
    assert len(roots) >= 2 and all(p["parentId"] is None for p in roots)


def test_tree_endpoints(emulator_api: Confluence, state: EmulatorState) -> None:
    home = state.site.spaces[0].homepage_id
    children = emulator_api.get(f"/wiki/api/v2/pages/{home}/direct-children?limit=250").get_json()["results"]
    assert children and all(c["type"] == "page" for c in children)
    desc = emulator_api.get(f"/wiki/api/v2/pages/{home}/descendants?depth=3&limit=250").get_json()["results"]
    assert {d["depth"] for d in desc} <= {1, 2, 3}
    deep = next(d for d in desc if d["depth"] == max(x["depth"] for x in desc))
    ancestors = emulator_api.get(f"/wiki/api/v2/pages/{deep['id']}/ancestors").get_json()
    assert ancestors["results"][0]["id"] == str(home)
    assert "next" not in ancestors["_links"]


def test_labels_versions_and_blogposts(emulator_api: Confluence, state: EmulatorState) -> None:
    labelled = next(c for c in state.site.content.values() if c.labels and c.status == "current")
    labels = emulator_api.get(f"/wiki/api/v2/pages/{labelled.id}/labels").get_json()["results"]
    assert [label["name"] for label in labels] == list(labelled.labels)
    versions = emulator_api.get(f"/wiki/api/v2/pages/{labelled.id}/versions").get_json()["results"]
    assert [v["number"] for v in versions] == list(range(labelled.version, 0, -1))
    space_id = _space_id(emulator_api, "HR")
    blogs = emulator_api.get(f"/wiki/api/v2/spaces/{space_id}/blogposts").get_json()["results"]
    assert blogs and all(b["spaceId"] == space_id for b in blogs)
    assert emulator_api.get("/wiki/api/v2/blogposts?limit=1").status_code == 200


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=251", "limit=abc", "sort=nope", "status=gone", "cursor=not-a-cursor", "space-id=abc"],
)
def test_bad_parameters_are_400(emulator_api: Confluence, query: str) -> None:
    response = emulator_api.get(f"/wiki/api/v2/pages?{query}")
    assert response.status_code == 400
    error = response.get_json()["errors"][0]
    assert error["status"] == 400 and error["code"] == "INVALID_REQUEST_PARAMETER"


def test_bad_depth_is_400(emulator_api: Confluence, state: EmulatorState) -> None:
    home = state.site.spaces[0].homepage_id
    assert emulator_api.get(f"/wiki/api/v2/pages/{home}/descendants?depth=11").status_code == 400
    space_id = state.site.spaces[0].id
    assert emulator_api.get(f"/wiki/api/v2/spaces/{space_id}/pages?depth=deep").status_code == 400


def test_tampered_or_foreign_cursor_is_400(emulator_api: Confluence) -> None:
    nxt = emulator_api.get("/wiki/api/v2/pages?limit=2&sort=title").get_json()["_links"]["next"]
    cursor = dict(parse_qsl(urlsplit(nxt).query))["cursor"]
    assert emulator_api.get(f"/wiki/api/v2/pages?cursor={cursor}&limit=2&sort=title").status_code == 200
    assert emulator_api.get(f"/wiki/api/v2/pages?cursor={cursor}&limit=2&sort=-title").status_code == 400
    tampered = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    assert emulator_api.get(f"/wiki/api/v2/pages?cursor={tampered}&limit=2&sort=title").status_code == 400


@pytest.mark.parametrize(
    "uri",
    [
        "/wiki/api/v2/pages/1",
        "/wiki/api/v2/spaces/1",
        "/wiki/api/v2/pages/1/labels",
        "/wiki/api/v2/blogposts/1000001",
        "/wiki/api/v2/nothing-here",
    ],
)
def test_unknown_ids_are_404(emulator_api: Confluence, uri: str) -> None:
    response = emulator_api.get(uri)
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["status"] == 404


@pytest.mark.parametrize(
    "uri",
    [
        "/wiki/api/v2/pages/abc",
        "/wiki/api/v2/pages/abc/labels",
        "/wiki/api/v2/spaces/1.5",
        "/wiki/api/v2/blogposts/x1",
        "/wiki/api/v2/pages?id=12,x",
        "/wiki/api/v2/pages/99999999999999999999",
    ],
)
def test_ids_that_are_not_int64_are_400(emulator_api: Confluence, uri: str) -> None:
    response = emulator_api.get(uri)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "INVALID_REQUEST_PARAMETER"


def _auth_status(emulator_app: Flask, header: str | None, uri: str = "/wiki/api/v2/spaces?limit=3") -> int:
    headers = {"Authorization": header} if header is not None else {}
    status: int = emulator_app.test_client().get(uri, headers=headers).status_code
    return status


def test_missing_or_bad_jwt_is_401(emulator_app: Flask) -> None:
    uri = "/wiki/api/v2/spaces?limit=3"
    assert _auth_status(emulator_app, None) == 401
    assert _auth_status(emulator_app, "Basic dXNlcjpwYXNz") == 401
    assert _auth_status(emulator_app, "JWT not.a.jwt") == 401
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri, secret='wrong-secret-' * 4)}") == 401
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri, iss='someone.else')}") == 401
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri, now=time.time() - 3600)}") == 401
    assert _auth_status(emulator_app, f"JWT {app_token('GET', '/wiki/api/v2/spaces?limit=4')}") == 401
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri, qsh='context-qsh')}") == 401
    # The classic mistake: hashing the path with /wiki still on it.
    from atlassian_jwt.url_utils import hash_url

    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri, qsh=hash_url('GET', uri))}") == 401
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri)}") == 200
    body = emulator_app.test_client().get(uri).get_json()
    assert body["errors"][0]["code"] == "UNAUTHORIZED"


def test_disabled_or_removed_app_cannot_call(emulator_app: Flask, state: EmulatorState) -> None:
    uri = "/wiki/api/v2/spaces"
    state.apps.set_enabled(APP_KEY, False)
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri)}", uri) == 401
    state.apps.remove(APP_KEY)
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri)}", uri) == 401
    register_app(state)
    assert _auth_status(emulator_app, f"JWT {app_token('GET', uri)}", uri) == 200


def test_qsh_covers_encoded_query(emulator_api: Confluence) -> None:
    # Space and & in a title and a comma list: the client must hash exactly the query it sends.
    uri = "/wiki/api/v2/pages?title=R%26D%20handbook&status=current,archived"
    assert emulator_api.get(uri).status_code == 200
    found = emulator_api.get("/wiki/api/v2/pages?title=R%26D+handbook").get_json()["results"]
    assert [p["title"] for p in found] == ["R&D handbook"]


def test_stats_count_rest_calls_per_route(emulator_app: Flask, emulator_api: Confluence) -> None:
    client = emulator_app.test_client()
    client.post("/_emulator/stats/reset")
    emulator_api.get("/wiki/api/v2/spaces")
    emulator_api.get("/wiki/api/v2/spaces/1")
    client.get("/wiki/api/v2/spaces")
    stats = client.get("/_emulator/stats").get_json()
    assert stats["total"] == 3
    assert stats["routes"] == {"GET /wiki/api/v2/spaces": 2, "GET /wiki/api/v2/spaces/<space_id>": 1}
    assert stats["statuses"] == {"200": 1, "404": 1, "401": 1}


def test_v1_user_operations(emulator_api: Confluence, state: EmulatorState) -> None:
    users = state.site.users
    admin = emulator_api.get(f"/wiki/rest/api/user?accountId={users[0].account_id}&expand=operations")
    ops = admin.get_json()["operations"]
    assert {"operation": "administer", "targetType": "application"} in ops
    user = emulator_api.get(f"/wiki/rest/api/user?accountId={users[1].account_id}&expand=operations")
    assert {"operation": "administer", "targetType": "application"} not in user.get_json()["operations"]
    assert user.get_json()["accountId"].startswith("557058:")
    assert emulator_api.get("/wiki/rest/api/user?accountId=557058:nobody").status_code == 404
