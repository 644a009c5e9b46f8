"""Content changes through the control API: each one is visible through REST v2 at once, and bad input
changes nothing (400/404/409 with a short message)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator.people import DELETED_ACCOUNT_ID
from emulator.site import USER_ACCOUNT_ID
from emulator.state import EmulatorState
from tests.emulator.conftest import NOW, Confluence, leaf_page

ISO_NOW = "2025-06-15T12:00:00Z"  # a few hours before NOW (2025-06-15T15:06:40Z)


@pytest.fixture
def control(emulator_app: Flask) -> FlaskClient:
    return emulator_app.test_client()


def _docs(state: EmulatorState) -> Any:
    space = state.site.space_by_key("DOCS")
    assert space is not None
    return space


def _snapshot(state: EmulatorState) -> tuple[Any, ...]:
    site = state.site
    return (
        dict(site.content),
        {k: list(v) for k, v in site.children.items()},
        {k: list(v) for k, v in site.pages_by_space.items()},
        {k: list(v) for k, v in site.blogposts_by_space.items()},
    )


def test_create_page_is_visible_at_once(
    control: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    docs = _docs(state)
    response = control.post(
        "/_emulator/pages",
        json={"spaceKey": "DOCS", "title": "Brand new", "authorId": USER_ACCOUNT_ID, "createdAt": ISO_NOW},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["event"] == "page_created"
    new_id = body["content"]["id"]
    assert int(new_id) > max(
        i for i, c in state.site.content.items() if c.kind == "page" and i != int(new_id)
    )
    page = emulator_api.get(f"/wiki/api/v2/pages/{new_id}").get_json()
    assert page["title"] == "Brand new"
    assert page["parentId"] == str(docs.homepage_id)  # under the home page unless a parent is given
    assert page["authorId"] == USER_ACCOUNT_ID and page["version"]["number"] == 1
    assert page["version"]["authorId"] == USER_ACCOUNT_ID
    assert page["createdAt"] == "2025-06-15T12:00:00.000Z"
    children = emulator_api.get(f"/wiki/api/v2/pages/{docs.homepage_id}/direct-children?limit=250").get_json()
    assert new_id in [c["id"] for c in children["results"]]
    listed = emulator_api.get(f"/wiki/api/v2/spaces/{docs.id}/pages?title=Brand%20new").get_json()
    assert [p["id"] for p in listed["results"]] == [new_id]


def test_create_under_a_parent_and_blogpost(
    control: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    parent = leaf_page(state)
    child = control.post(
        "/_emulator/pages", json={"spaceKey": "DOCS", "title": "Child", "parentId": str(parent)}
    )
    assert child.status_code == 201
    child_id = child.get_json()["content"]["id"]
    ancestors = emulator_api.get(f"/wiki/api/v2/pages/{child_id}/ancestors").get_json()["results"]
    assert ancestors[-1]["id"] == str(parent)
    blog = control.post("/_emulator/blogposts", json={"spaceKey": "ENG", "title": "News"})
    assert blog.status_code == 201 and blog.get_json()["event"] == "blog_created"
    blog_id = blog.get_json()["content"]["id"]
    got = emulator_api.get(f"/wiki/api/v2/blogposts/{blog_id}").get_json()
    assert got["title"] == "News" and got["spaceId"] == str(state.site.space_by_key("ENG").id)  # type: ignore[union-attr]
    # A second create gets the next id; blog posts and pages have their own ranges.
    again = control.post("/_emulator/blogposts", json={"spaceKey": "ENG", "title": "More news"})
    assert int(again.get_json()["content"]["id"]) == int(blog_id) + 1


def test_update_makes_a_new_version(
    control: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    page_id = leaf_page(state)
    before = emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()
    response = control.post(
        f"/_emulator/pages/{page_id}/update",
        json={"title": "Renamed page", "authorId": USER_ACCOUNT_ID, "at": NOW + 60},
    )
    assert response.status_code == 200 and response.get_json()["event"] == "page_updated"
    after = emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()
    assert after["title"] == "Renamed page"
    assert after["version"]["number"] == before["version"]["number"] + 1
    assert after["version"]["authorId"] == USER_ACCOUNT_ID
    assert after["version"]["createdAt"] == "2025-06-15T15:07:40.000Z"
    versions = emulator_api.get(f"/wiki/api/v2/pages/{page_id}/versions").get_json()["results"]
    assert versions[0]["number"] == after["version"]["number"]
    assert (
        emulator_api.get(f"/wiki/api/v2/pages/{page_id}?version={after['version']['number']}").status_code
        == 200
    )


def test_trash_restore_and_purge(
    control: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    page_id = leaf_page(state)
    parent_id = state.site.content[page_id].parent_id
    assert control.post(f"/_emulator/pages/{page_id}/trash").get_json()["event"] == "page_trashed"
    assert emulator_api.get(f"/wiki/api/v2/pages/{page_id}").status_code == 404
    trashed = emulator_api.get(f"/wiki/api/v2/pages/{page_id}?status=trashed").get_json()
    assert trashed["status"] == "trashed"
    kids = emulator_api.get(f"/wiki/api/v2/pages/{parent_id}/direct-children?limit=250").get_json()["results"]
    assert str(page_id) not in [k["id"] for k in kids]
    # Only trashed content can be purged, and only current content trashed: 409 and nothing changes.
    assert control.post(f"/_emulator/pages/{page_id}/trash").status_code == 409
    restored = control.post(f"/_emulator/pages/{page_id}/restore")
    assert restored.status_code == 200 and restored.get_json()["event"] == "page_restored"
    assert emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()["status"] == "current"
    assert control.post(f"/_emulator/pages/{page_id}/remove").status_code == 409
    control.post(f"/_emulator/pages/{page_id}/trash")
    purged = control.post(f"/_emulator/pages/{page_id}/remove")
    assert purged.status_code == 200 and purged.get_json()["event"] == "page_removed"
    assert emulator_api.get(f"/wiki/api/v2/pages/{page_id}?status=trashed").status_code == 404
    assert control.post(f"/_emulator/pages/{page_id}/restore").status_code == 404


def test_blogpost_trash_restore_purge(
    control: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    blog_id = control.post(
        "/_emulator/blogposts", json={"spaceKey": "HR", "title": "Short-lived"}
    ).get_json()["content"]["id"]
    events = [
        control.post(f"/_emulator/blogposts/{blog_id}/{action}").get_json()["event"]
        for action in ("update", "trash", "restore", "trash", "remove")
    ]
    assert events == ["blog_updated", "blog_trashed", "blog_restored", "blog_trashed", "blog_removed"]
    assert emulator_api.get(f"/wiki/api/v2/blogposts/{blog_id}?status=trashed").status_code == 404
    # Blog posts are neither archived nor moved.
    other = next(iter(state.site.blogposts_by_space[_docs(state).id]))
    for action in ("archive", "move"):
        response = control.post(
            f"/_emulator/pages/{other}/{action}", json={"spaceKey": "HR"} if action == "move" else {}
        )
        assert response.status_code == 400, action


def test_archive_and_unarchive(control: FlaskClient, emulator_api: Confluence, state: EmulatorState) -> None:
    page_id = leaf_page(state)
    assert control.post(f"/_emulator/pages/{page_id}/archive").get_json()["event"] == "page_archived"
    assert emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()["status"] == "archived"
    listed = emulator_api.get(f"/wiki/api/v2/pages?id={page_id}&status=current").get_json()["results"]
    assert listed == []
    assert control.post(f"/_emulator/pages/{page_id}/update").status_code == 409  # archived: read-only
    assert control.post(f"/_emulator/pages/{page_id}/unarchive").get_json()["event"] == "page_unarchived"
    assert emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()["status"] == "current"


def test_move_within_and_across_spaces(
    control: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    page_id = leaf_page(state)
    new_parent = next(
        i
        for i in state.site.pages_by_space[_docs(state).id]
        if i != page_id
        and state.site.content[i].status == "current"
        and i not in state.access.all()
        and i != state.site.content[page_id].parent_id
    )
    child = control.post(
        "/_emulator/pages", json={"spaceKey": "DOCS", "title": "Rides along", "parentId": page_id}
    )
    child_id = child.get_json()["content"]["id"]
    moved = control.post(f"/_emulator/pages/{page_id}/move", json={"parentId": new_parent})
    assert moved.status_code == 200 and moved.get_json()["event"] == "page_moved"
    assert emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()["parentId"] == str(new_parent)
    version = emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()["version"]["number"]
    eng = state.site.space_by_key("ENG")
    assert eng is not None
    across = control.post(f"/_emulator/pages/{page_id}/move", json={"spaceKey": "ENG"})
    assert across.status_code == 200
    page = emulator_api.get(f"/wiki/api/v2/pages/{page_id}").get_json()
    assert page["spaceId"] == str(eng.id) and page["parentId"] == str(eng.homepage_id)
    assert page["version"]["number"] == version  # a move is not a new version
    assert emulator_api.get(f"/wiki/api/v2/pages/{child_id}").get_json()["spaceId"] == str(eng.id)
    listed = emulator_api.get(f"/wiki/api/v2/spaces/{eng.id}/pages?limit=250").get_json()["results"]
    assert {str(page_id), child_id} <= {p["id"] for p in listed}
    # Below itself is refused.
    assert control.post(f"/_emulator/pages/{page_id}/move", json={"parentId": child_id}).status_code == 400


def test_new_page_under_a_restricted_parent_inherits(
    control: FlaskClient, emulator_api: Confluence, state: EmulatorState
) -> None:
    from tests.emulator.conftest import bearer_token

    restricted = next(iter(sorted(state.access.all())))
    item = state.site.content[restricted]
    if item.kind != "page":
        restricted = next(i for i in sorted(state.access.all()) if state.site.content[i].kind == "page")
    space = state.site.space(state.site.content[restricted].space_id)
    assert space is not None
    response = control.post(
        "/_emulator/pages", json={"spaceKey": space.key, "title": "Secret child", "parentId": restricted}
    )
    assert response.status_code == 201
    new_id = response.get_json()["content"]["id"]
    una = bearer_token(control.application, USER_ACCOUNT_ID)
    assert emulator_api.get(f"/wiki/api/v2/pages/{new_id}", token=una).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_emulator/pages", {"spaceKey": "NOPE", "title": "x"}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS"}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": ""}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x" * 256}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "Getting started"}, 400),  # title taken
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "parentId": "abc"}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "parentId": 123}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "authorId": DELETED_ACCOUNT_ID}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "authorId": "nobody"}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "createdAt": "yesterday"}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "createdAt": "2025-01-01T00:00:00"}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "createdAt": True}, 400),
        ("/_emulator/pages", {"spaceKey": "DOCS", "title": "x", "color": "red"}, 400),
        ("/_emulator/pages", ["not", "an", "object"], 400),
        ("/_emulator/blogposts", {"spaceKey": "DOCS", "title": "x", "parentId": "1"}, 400),
        ("/_emulator/pages/LEAF/update", {"at": 0}, 400),  # before the latest version
        ("/_emulator/pages/LEAF/update", {"title": 5}, 400),
        ("/_emulator/pages/LEAF/move", {}, 400),
        ("/_emulator/pages/LEAF/move", {"spaceKey": "NOPE"}, 400),
        ("/_emulator/pages/LEAF/move", {"parentId": "LEAF"}, 400),
        ("/_emulator/pages/LEAF/explode", {}, 404),
        ("/_emulator/pages/1/update", {}, 404),
        ("/_emulator/pages/HOME/trash", {}, 409),
        ("/_emulator/pages/HOME/move", {"spaceKey": "ENG"}, 409),
        ("/_emulator/pages/HOME/archive", {}, 409),
        ("/_emulator/pages/LEAF/restore", {}, 409),
        ("/_emulator/pages/LEAF/unarchive", {}, 409),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    control: FlaskClient, state: EmulatorState, path: str, body: Any, status: int
) -> None:
    leaf, home = leaf_page(state), _docs(state).homepage_id
    path = path.replace("LEAF", str(leaf)).replace("HOME", str(home))
    if isinstance(body, dict):
        body = {k: (str(leaf) if v == "LEAF" else v) for k, v in body.items()}
    before = _snapshot(state)
    response = control.post(path, json=body)
    assert response.status_code == status, response.get_data(as_text=True)
    assert isinstance(response.get_json()["error"], str) and response.get_json()["error"]
    assert _snapshot(state) == before
    assert state.webhooks.log() == []


def test_malformed_json_is_400(control: FlaskClient, state: EmulatorState) -> None:
    before = _snapshot(state)
    response = control.post("/_emulator/pages", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert _snapshot(state) == before


def test_a_page_with_children_cannot_be_trashed(control: FlaskClient, state: EmulatorState) -> None:
    parent = leaf_page(state)
    control.post("/_emulator/pages", json={"spaceKey": "DOCS", "title": "Kid", "parentId": parent})
    before = _snapshot(state)
    assert control.post(f"/_emulator/pages/{parent}/trash").status_code == 409
    assert control.post(f"/_emulator/pages/{parent}/archive").status_code == 409
    assert _snapshot(state) == before
