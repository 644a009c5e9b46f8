"""Webhooks sent to a real app on loopback that verifies every token with ``atlassian_jwt`` (qsh included)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator import webhooks
from emulator.server import create_app
from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID
from emulator.state import EmulatorState, emulator_state
from tests.emulator.conftest import NOW, PORT, SECRET, leaf_page, register_app
from tests.emulator.webhook_receiver import BASE_PATH, make_receiver, received
from tests.kit.live import LiveServer, serving
from tests.kit.processes import free_port

PAGE_EVENTS = (
    "page_created",
    "page_updated",
    "page_moved",
    "page_archived",
    "page_unarchived",
    "page_trashed",
    "page_restored",
    "page_removed",
)
BLOG_EVENTS = ("blog_created", "blog_updated", "blog_trashed", "blog_restored", "blog_removed")
CONTENT_FIELDS = {
    "idAsString",
    "creatorAccountId",
    "spaceKey",
    "spaceId",
    "modificationDate",
    "lastModifierAccountId",
    "self",
    "id",
    "title",
    "creationDate",
    "contentType",
    "version",
}


@pytest.fixture
def receiver() -> Iterator[tuple[LiveServer, Flask]]:
    app = make_receiver()
    with serving(app) as server:
        yield server, app


@pytest.fixture
def site(receiver: tuple[LiveServer, Flask]) -> tuple[FlaskClient, EmulatorState, Flask]:
    """An emulator (not listening: webhooks only go out) with one app subscribed to every event."""
    server, app = receiver
    emulator_app = create_app(port=PORT, seed=7, now=NOW, webhook_timeout=0.5)
    state = emulator_state(emulator_app)
    modules = {"webhooks": [{"event": e, "url": f"/webhooks/{e}"} for e in (*PAGE_EVENTS, *BLOG_EVENTS)]}
    register_app(state, base_url=f"{server.url}{BASE_PATH}", modules=modules)
    app.config["SECRETS"] = {state.site.client_key: SECRET}
    return emulator_app.test_client(), state, app


def _post(client: FlaskClient, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
    response = client.post(path, json=body or {})
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _flush(client: FlaskClient) -> None:
    _post(client, "/_emulator/webhooks/flush", {"timeout": 10})


def test_every_change_is_delivered_signed_with_confluences_shape(
    site: tuple[FlaskClient, EmulatorState, Flask],
) -> None:
    client, state, app = site
    docs = state.site.space_by_key("DOCS")
    assert docs is not None
    page = _post(
        client,
        "/_emulator/pages",
        {"spaceKey": "DOCS", "title": "Hooked", "authorId": USER_ACCOUNT_ID, "createdAt": NOW},
        201,
    )
    page_id = page["content"]["id"]
    steps = [
        (f"/_emulator/pages/{page_id}/update", {"title": "Hooked v2", "at": NOW + 10}),
        (f"/_emulator/pages/{page_id}/move", {"parentId": leaf_page(state)}),
        (f"/_emulator/pages/{page_id}/archive", {}),
        (f"/_emulator/pages/{page_id}/unarchive", {}),
        (f"/_emulator/pages/{page_id}/trash", {}),
        (f"/_emulator/pages/{page_id}/restore", {}),
        (f"/_emulator/pages/{page_id}/trash", {}),
        (f"/_emulator/pages/{page_id}/remove", {"authorId": USER_ACCOUNT_ID}),
    ]
    for path, body in steps:
        _post(client, path, body)
    blog = _post(client, "/_emulator/blogposts", {"spaceKey": "ENG", "title": "Hooked blog"}, 201)
    blog_id = blog["content"]["id"]
    for action in ("update", "trash", "restore", "trash", "remove"):
        _post(client, f"/_emulator/blogposts/{blog_id}/{action}")
    _flush(client)

    got = received(app)
    events = [r.path.split("?")[0].removeprefix("/webhooks/") for r in got]
    assert events == [
        *PAGE_EVENTS[:6],
        "page_restored",
        "page_trashed",
        "page_removed",
        *BLOG_EVENTS[:4],
        "blog_trashed",
        "blog_removed",
    ]
    for hook in got:
        assert hook.error == "", hook.error  # atlassian_jwt verified signature, expiry and qsh
        assert hook.path.endswith("?lic=none")
        assert hook.claims is not None and hook.claims["iss"] == state.site.client_key
        assert hook.claims["exp"] - hook.claims["iat"] == 180
        assert set(hook.claims) == {"iss", "iat", "exp", "qsh"}
        assert hook.content_type == "application/json"

    created, updated = got[0].json(), got[1].json()
    assert set(created) == {"userAccountId", "accountType", "page", "timestamp"}
    assert set(updated) == {
        "userAccountId",
        "accountType",
        "updateTrigger",
        "suppressNotifications",
        "page",
        "timestamp",
    }
    assert updated["updateTrigger"] == "edit_page" and updated["suppressNotifications"] is False
    assert created["userAccountId"] == USER_ACCOUNT_ID and created["accountType"] == "customer"
    body = updated["page"]
    assert set(body) == CONTENT_FIELDS
    assert body["id"] == int(page_id) and body["idAsString"] == page_id
    assert body["title"] == "Hooked v2" and body["version"] == 2 and body["contentType"] == "page"
    assert body["spaceKey"] == "DOCS" and body["spaceId"] == docs.id
    assert body["creatorAccountId"] == USER_ACCOUNT_ID and body["lastModifierAccountId"] == ADMIN_ACCOUNT_ID
    assert body["modificationDate"] == (NOW + 10) * 1000 and updated["timestamp"] == (NOW + 10) * 1000
    assert body["self"] == f"{state.site.base_url}/spaces/DOCS/pages/{page_id}/Hooked+v2"
    removed = got[8].json()
    assert removed["userAccountId"] == USER_ACCOUNT_ID and removed["page"]["id"] == int(page_id)
    blog_body = got[9].json()
    assert set(blog_body) == {"userAccountId", "accountType", "blog", "timestamp"}
    assert blog_body["blog"]["contentType"] == "blogpost" and blog_body["blog"]["idAsString"] == blog_id
    assert "/spaces/ENG/blog/" in blog_body["blog"]["self"]

    log = client.get("/_emulator/webhooks").get_json()
    assert log["pending"] == 0 and log["paused"] is False
    entries = log["deliveries"]
    assert [e["event"] for e in entries] == events
    assert all(e["state"] == "sent" and e["status"] == 204 and e["attempts"] == 1 for e in entries)
    assert entries[0]["url"].startswith(f"{state.apps.all()[0].base_url}/webhooks/page_created?lic=none")
    assert entries[0]["contentId"] == page_id and entries[0]["appKey"] == state.apps.all()[0].key


def test_module_options_exclude_body_queries_and_absolute_urls(
    receiver: tuple[LiveServer, Flask],
) -> None:
    server, app = receiver
    emulator_app = create_app(port=PORT, seed=7, now=NOW)
    state = emulator_state(emulator_app)
    base = f"{server.url}{BASE_PATH}"
    modules = {
        "webhooks": [
            {"event": "page_updated", "url": "/bare", "excludeBody": True},
            {"event": "page_updated", "url": "/query?tenant=a%20b&x=1", "propertyKeys": ["ignored"]},
            {"event": "page_updated", "url": f"{base}/absolute"},
            {"event": "page_updated", "url": "https://elsewhere.example/hook"},
            {"event": "page_updated"},  # no url: ignored
            {"event": "page_created", "url": "/other-event"},
        ]
    }
    register_app(state, base_url=base, modules=modules)
    app.config["SECRETS"] = {state.site.client_key: SECRET}
    client = emulator_app.test_client()
    _post(client, f"/_emulator/pages/{leaf_page(state)}/update")
    _flush(client)
    got = {r.path: r for r in received(app)}
    assert set(got) == {"/bare?lic=none", "/query?tenant=a%20b&x=1&lic=none", "/absolute?lic=none"}
    assert all(r.error == "" for r in got.values())
    assert got["/bare?lic=none"].body == b"" and got["/bare?lic=none"].content_type is None
    assert got["/query?tenant=a%20b&x=1&lic=none"].json()["page"]["version"] > 1
    log = client.get("/_emulator/webhooks").get_json()["deliveries"]
    dropped = [e for e in log if e["state"] == "dropped"]
    assert len(dropped) == 1 and "not under the app baseUrl" in dropped[0]["error"]


def test_only_enabled_subscribers_that_can_view_the_content(
    site: tuple[FlaskClient, EmulatorState, Flask], receiver: tuple[LiveServer, Flask]
) -> None:
    client, state, app = site
    server, _ = receiver
    register_app(state, key="com.example.quiet", base_url=f"{server.url}{BASE_PATH}/quiet")  # no webhooks
    leaf = leaf_page(state)
    _post(client, f"/_emulator/pages/{leaf}/restrictions", {"users": [ADMIN_ACCOUNT_ID]})
    _post(client, f"/_emulator/pages/{leaf}/update")  # the app's user cannot view it: no webhook
    state.apps.set_enabled(state.apps.all()[0].key, False)
    other = _post(client, "/_emulator/pages", {"spaceKey": "HR", "title": "While disabled"}, 201)
    state.apps.set_enabled(state.apps.all()[0].key, True)
    _post(client, f"/_emulator/pages/{other['content']['id']}/update")
    _flush(client)
    paths = [r.path for r in received(app)]
    assert paths == ["/webhooks/page_updated?lic=none"]
    assert received(app)[0].json()["page"]["idAsString"] == other["content"]["id"]


def test_pause_holds_resume_releases_flush_waits(site: tuple[FlaskClient, EmulatorState, Flask]) -> None:
    client, state, app = site
    leaf = leaf_page(state)
    assert _post(client, "/_emulator/webhooks/pause")["paused"] is True
    for _ in range(3):
        _post(client, f"/_emulator/pages/{leaf}/update")
    time.sleep(0.3)
    assert received(app) == []
    log = client.get("/_emulator/webhooks").get_json()
    assert log["pending"] == 3 and [e["state"] for e in log["deliveries"]] == ["held"] * 3
    assert client.post("/_emulator/webhooks/flush", json={}).status_code == 409
    released = _post(client, "/_emulator/webhooks/resume")
    assert released["paused"] is False and released["released"] == [e["id"] for e in log["deliveries"]]
    _flush(client)
    versions = [r.json()["page"]["version"] for r in received(app)]
    assert versions == sorted(versions) and len(versions) == 3


def test_duplicate_sends_each_delivery_twice(site: tuple[FlaskClient, EmulatorState, Flask]) -> None:
    client, state, app = site
    assert _post(client, "/_emulator/webhooks/faults", {"duplicate": True}) == {
        "duplicate": True,
        "shuffle": False,
        "seed": 0,
    }
    _post(client, f"/_emulator/pages/{leaf_page(state)}/update")
    _flush(client)
    got = received(app)
    assert len(got) == 2 and got[0].body == got[1].body and all(r.error == "" for r in got)
    log = client.get("/_emulator/webhooks").get_json()["deliveries"]
    assert [e["duplicate"] for e in log] == [False, True]


def test_shuffle_reorders_a_held_batch_with_the_seed(site: tuple[FlaskClient, EmulatorState, Flask]) -> None:
    client, state, app = site
    _post(client, "/_emulator/webhooks/faults", {"shuffle": True, "seed": 3})
    _post(client, "/_emulator/webhooks/pause")
    leaf = leaf_page(state)
    for _ in range(6):
        _post(client, f"/_emulator/pages/{leaf}/update")
    held = [e["id"] for e in client.get("/_emulator/webhooks").get_json()["deliveries"]]
    expected = list(held)
    random.Random(3).shuffle(expected)
    assert expected != held  # the seed really reorders six items
    assert _post(client, "/_emulator/webhooks/resume")["released"] == expected
    _flush(client)
    versions = [r.json()["page"]["version"] for r in received(app)]
    first = min(versions)
    assert [held[v - first] for v in versions] == expected


def test_failures_are_logged_and_not_retried(site: tuple[FlaskClient, EmulatorState, Flask]) -> None:
    client, state, app = site
    leaf = leaf_page(state)
    app.config["STATUS"] = 500
    _post(client, f"/_emulator/pages/{leaf}/update")
    _flush(client)
    app.config["STATUS"], app.config["DELAY"] = 204, 1.5  # longer than the emulator's 0.5 s timeout
    _post(client, f"/_emulator/pages/{leaf}/update")
    _flush(client)
    nobody = free_port()
    record = state.apps.all()[0]
    state.apps.put(
        replace(record, descriptor={**record.descriptor, "baseUrl": f"http://127.0.0.1:{nobody}/app"})
    )
    _post(client, f"/_emulator/pages/{leaf}/update")
    _flush(client)
    log = client.get("/_emulator/webhooks").get_json()["deliveries"]
    assert [(e["state"], e["status"], e["attempts"]) for e in log] == [
        ("failed", 500, 1),
        ("failed", None, 1),
        ("failed", None, 1),
    ]
    assert "Timeout" in log[1]["error"] and "ConnectionError" in log[2]["error"]
    assert len(received(app)) == 2  # one POST each for the two the app could answer: no retries


def test_a_full_queue_drops_new_deliveries(
    site: tuple[FlaskClient, EmulatorState, Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, state, app = site
    monkeypatch.setattr(webhooks, "QUEUE_LIMIT", 2)
    _post(client, "/_emulator/webhooks/pause")
    leaf = leaf_page(state)
    for _ in range(3):
        _post(client, f"/_emulator/pages/{leaf}/update")
    log = client.get("/_emulator/webhooks").get_json()["deliveries"]
    assert [e["state"] for e in log] == ["held", "held", "dropped"] and log[2]["error"] == "queue full"
    _post(client, "/_emulator/webhooks/resume")
    _flush(client)
    assert len(received(app)) == 2
    _post(client, "/_emulator/webhooks/clear")
    assert client.get("/_emulator/webhooks").get_json()["deliveries"] == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_emulator/webhooks/flush", {"timeout": 0}, 400),
        ("/_emulator/webhooks/flush", {"timeout": 61}, 400),
        ("/_emulator/webhooks/flush", {"timeout": "soon"}, 400),
        ("/_emulator/webhooks/faults", {"duplicate": "yes"}, 400),
        ("/_emulator/webhooks/faults", {"shuffle": 1}, 400),
        ("/_emulator/webhooks/faults", {"seed": 1.5}, 400),
        ("/_emulator/webhooks/faults", {"reorder": True}, 400),
        ("/_emulator/webhooks/faults", [True], 400),
        ("/_emulator/webhooks/explode", {}, 404),
    ],
)
def test_bad_webhook_control_input(
    site: tuple[FlaskClient, EmulatorState, Flask], path: str, body: Any, status: int
) -> None:
    client, state, _ = site
    before = state.webhooks.faults.to_json()
    response = client.post(path, json=body)
    assert response.status_code == status and response.get_json()["error"]
    assert state.webhooks.faults.to_json() == before and not state.webhooks.paused
