"""Every route the emulator serves under ``/wiki/api/v2``, called with realistic and wrong parameters,
answers with a status the spec declares and a body the spec's schema accepts (see ``openapi.py``).

Lists are walked to the end through ``_links.next`` (which must also be in ``Link``), as the app and as
Una, so restricted content, cursors and every page of every list are checked too.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from emulator.accounts import principal_of
from emulator.people import DELETED_ACCOUNT_ID, UNKNOWN_ACCOUNT_ID
from emulator.server import create_app
from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID
from emulator.state import EmulatorState, emulator_state
from tests.emulator import openapi
from tests.emulator.conftest import NOW, PORT, Confluence, bearer_token, register_app

PREFIX = "/wiki/api/v2"
#: Not declared per operation but answered by every Confluence REST route (Atlassian's auth docs).
ALWAYS_ALLOWED = {401}


@pytest.fixture
def emulator_app() -> Flask:
    """A bigger site than the default (300 DOCS pages), so archived and trashed pages exist."""
    app = create_app(port=PORT, seed=7, pages=300, now=NOW)
    register_app(emulator_state(app))
    return app


@dataclass(frozen=True)
class Call:
    method: str
    uri: str  # relative to /wiki/api/v2
    status: int
    body: Any = None
    as_una: bool = False


def _rule_to_spec_path(rule: str) -> str:
    return re.sub(r"<[^>]+>", "{id}", rule.removeprefix(PREFIX))


def _spec_path(uri: str, served: set[str]) -> str:
    """The spec template a concrete URI belongs to (``/pages/123/labels`` → ``/pages/{id}/labels``)."""
    path = uri.split("?")[0]
    for template in sorted(served, key=len, reverse=True):
        pattern = "^" + re.escape(template).replace(r"\{id\}", "[^/]+") + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"no served route for {uri}")


def calls(state: EmulatorState) -> list[Call]:
    """Realistic parameters for every route, wrong ones too, built from the seeded site."""
    site = state.site
    docs = site.space_by_key("DOCS")
    eng = site.space_by_key("ENG")
    assert docs is not None and eng is not None
    pages = [c for c in site.content.values() if c.kind == "page"]
    trashed = next(c for c in pages if c.status == "trashed")
    archived = next(c for c in pages if c.status == "archived")
    deep = max(pages, key=lambda c: len(site.ancestors(c)) if c.status == "current" else -1)
    parent = next(i for i in site.children if len(site.children[i]) > 3)
    versioned = next(c for c in pages if c.version > 3 and c.labels and c.status == "current")
    blog = site.blogposts_by_space[eng.id][0]
    una = site.user(USER_ACCOUNT_ID)
    assert una is not None
    hidden = state.access.hidden(principal_of(una))
    ids = ",".join(str(c.id) for c in pages[:30])
    ok = 200
    return [
        Call("GET", "/spaces?limit=1", ok),
        Call("GET", "/spaces?limit=2&sort=-name&description-format=view&include-icon=true", ok),
        Call("GET", f"/spaces?keys=DOCS,ENG&ids={docs.id},{eng.id}&type=global&status=current", ok),
        Call("GET", "/spaces?labels=team&favorited-by=" + ADMIN_ACCOUNT_ID, ok),
        Call("GET", "/spaces?type=bogus", 400),
        Call("GET", "/spaces?ids=abc", 400),
        Call("GET", "/spaces?limit=0", 400),
        Call("GET", "/spaces?limit=251", 400),
        Call("GET", "/spaces?sort=size", 400),
        Call("GET", "/spaces?cursor=not-a-cursor", 400),
        Call("GET", f"/spaces/{docs.id}", ok),
        Call(
            "GET",
            f"/spaces/{docs.id}?description-format=plain&include-icon=true&include-labels=true"
            "&include-operations=true&include-properties=true&include-permissions=true"
            "&include-role-assignments=true",
            ok,
        ),
        Call("GET", "/spaces/abc", 400),
        Call("GET", "/spaces/1", 404),
        Call("GET", f"/spaces/{docs.id}?include-icon=maybe", 400),
        Call("GET", f"/spaces/{docs.id}/pages?depth=root", ok),
        Call("GET", f"/spaces/{docs.id}/pages?limit=5&sort=-modified-date", ok),
        Call("GET", f"/spaces/{eng.id}/pages?limit=7&status=current,archived&body-format=storage", ok),
        Call("GET", f"/spaces/{docs.id}/pages?title=Glossary", ok),
        Call("GET", f"/spaces/{docs.id}/pages?depth=deep", 400),
        Call("GET", "/spaces/1/pages", 404),
        Call("GET", f"/spaces/{eng.id}/blogposts?limit=2&body-format=atlas_doc_format", ok),
        Call("GET", f"/spaces/{eng.id}/blogposts?status=bogus", 400),
        Call("GET", "/pages?limit=50", ok),
        Call("GET", "/pages?limit=50", ok, as_una=True),
        Call("GET", f"/pages?space-id={docs.id},{eng.id}&sort=title&status=trashed,archived", ok),
        Call("GET", f"/pages?id={ids}&limit=7&body-format=storage&subtype=page", ok),
        Call("GET", f"/pages?id={ids}&limit=7", ok, as_una=True),
        Call("GET", "/pages?subtype=live", ok),
        Call("GET", "/pages?subtype=whiteboard", 400),
        Call("GET", "/pages?status=nope", 400),
        Call("GET", "/pages?body-format=view", 400),
        Call("GET", "/pages?space-id=x", 400),
        Call("GET", "/pages?limit=ten", 400),
        Call("GET", f"/pages/{versioned.id}", ok),
        Call("GET", f"/pages/{versioned.id}", 404 if versioned.id in hidden else ok, as_una=True),
        Call("GET", f"/pages/{versioned.id}?body-format=view&version=2", ok),
        Call(
            "GET",
            f"/pages/{versioned.id}?include-labels=true&include-versions=true&include-operations=true"
            "&include-likes=true&include-properties=true&include-favorited-by-current-user-status=true"
            "&include-webresources=true&include-collaborators=true&include-direct-children=true",
            ok,
        ),
        Call("GET", f"/pages/{versioned.id}?include-version=false&get-draft=false", ok),
        Call("GET", f"/pages/{archived.id}", ok),
        Call("GET", f"/pages/{trashed.id}", 404),
        Call("GET", f"/pages/{trashed.id}?status=trashed", ok),
        Call("GET", f"/pages/{versioned.id}?status=bogus", 400),
        Call("GET", f"/pages/{versioned.id}?version=0", 400),
        Call("GET", f"/pages/{versioned.id}?version=999", 404),
        Call("GET", f"/pages/{versioned.id}?include-labels=yes", 400),
        Call("GET", "/pages/abc", 400),
        Call("GET", "/pages/1", 404),
        Call("GET", "/blogposts?limit=3", ok),
        Call("GET", "/blogposts?limit=3", ok, as_una=True),
        Call("GET", f"/blogposts?space-id={eng.id}&sort=-created-date&body-format=storage", ok),
        Call("GET", "/blogposts?sort=title", 400),
        Call("GET", f"/blogposts/{blog}?body-format=storage&include-labels=true&include-versions=true", ok),
        Call("GET", f"/blogposts/{blog}", 404, as_una=True),
        Call("GET", "/blogposts/nope", 400),
        Call("GET", f"/pages/{parent}/direct-children?limit=3", ok),
        Call("GET", f"/pages/{parent}/direct-children?sort=-title", ok),
        Call("GET", f"/pages/{parent}/direct-children?sort=size", 400),
        Call("GET", f"/pages/{docs.homepage_id}/descendants?depth=3&limit=4", ok),
        Call("GET", f"/pages/{docs.homepage_id}/descendants?depth=11", 400),
        Call("GET", f"/pages/{deep.id}/ancestors", ok),
        Call("GET", f"/pages/{deep.id}/ancestors?limit=1", ok),
        Call("GET", "/pages/x/ancestors", 400),
        Call("GET", f"/pages/{versioned.id}/labels?prefix=global&sort=-name", ok),
        Call("GET", f"/pages/{versioned.id}/labels?prefix=bad", 400),
        Call("GET", f"/pages/{versioned.id}/versions?body-format=storage&limit=2", ok),
        Call("GET", f"/pages/{versioned.id}/versions?sort=modified-date", ok),
        Call("GET", f"/pages/{versioned.id}/versions?sort=number", 400),
        Call(
            "POST",
            "/users-bulk",
            ok,
            {"accountIds": [ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID, DELETED_ACCOUNT_ID, UNKNOWN_ACCOUNT_ID]},
        ),
        Call("POST", "/users-bulk", ok, {"accountIds": [UNKNOWN_ACCOUNT_ID]}, as_una=True),
        Call("POST", "/users-bulk", 400, {"accountIds": []}),
        Call("POST", "/users-bulk", 400, {"accountIds": [str(n) for n in range(251)]}),
    ]


def _served(emulator_app: Flask) -> set[tuple[str, str]]:
    return {
        (method, _rule_to_spec_path(rule.rule))
        for rule in emulator_app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def check(method: str, template: str, response: Any) -> list[str]:
    """Problems with one answer: undeclared status, body off the spec, error body off Confluence's."""
    declared = {int(code) for code in openapi.operation(method, template)["responses"] if code.isdigit()}
    found = []
    if response.status_code not in declared | ALWAYS_ALLOWED:
        found.append(f"status {response.status_code} is not declared (declared: {sorted(declared)})")
    body = response.get_json(silent=True)
    if response.status_code >= 400:
        return found + openapi.error_problems(body, response.status_code)
    schema = openapi.response_schema(method, template, response.status_code)
    assert schema is not None, f"{method} {template} declares no body for {response.status_code}"
    omitted = frozenset({"version"}) if "include-version=false" in response.request.url else frozenset()
    found += openapi.problems(body, schema, omitted)
    nxt = (body.get("_links") or {}).get("next") if isinstance(body, dict) else None
    if nxt is not None and f'<{nxt}>; rel="next"' not in response.headers.get("Link", ""):
        found.append("_links.next is not in the Link header")
    return found


def test_every_served_v2_route_answers_as_the_spec_says(
    emulator_app: Flask, emulator_api: Confluence, state: EmulatorState
) -> None:
    served = _served(emulator_app)
    templates = {t for _, t in served}
    una = bearer_token(emulator_app, USER_ACCOUNT_ID)
    exercised: set[tuple[str, str]] = set()
    failures: list[str] = []
    checked = 0
    for call in calls(state):
        template = _spec_path(call.uri, templates)
        exercised.add((call.method, template))
        token = una if call.as_una else None
        uri: str | None = PREFIX + call.uri
        first = True
        while uri is not None:
            if call.method == "POST":
                response = emulator_api.post(uri, call.body, token=token)
            else:
                response = emulator_api.get(uri, token=token)
            if first and response.status_code != call.status:
                failures.append(f"{call.method} {uri}: {response.status_code}, expected {call.status}")
            failures += [f"{call.method} {uri}: {p}" for p in check(call.method, template, response)]
            checked += 1
            first = False
            body = response.get_json(silent=True)
            nxt = body.get("_links", {}).get("next") if response.status_code == 200 else None
            uri = nxt if isinstance(nxt, str) else None
    unauthenticated = emulator_app.test_client().get(f"{PREFIX}/pages")
    failures += [f"no auth: {p}" for p in check("GET", "/pages", unauthenticated)]
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:40])
    assert exercised == served, f"routes without a conformance call: {sorted(served - exercised)}"
    assert checked > len(calls(state))  # cursors were followed


def test_served_routes_all_exist_in_the_spec(emulator_app: Flask) -> None:
    for method, template in _served(emulator_app):
        assert openapi.operation(method, template)["responses"], (method, template)


# --------------------------------------------------------------------------------------------------
# Negative controls: the same checks reject answers that are off the spec.
# --------------------------------------------------------------------------------------------------


def _page_answer(emulator_api: Confluence, state: EmulatorState) -> dict[str, Any]:
    space = state.site.space_by_key("DOCS")
    assert space is not None
    body: dict[str, Any] = emulator_api.get(f"{PREFIX}/spaces/{space.id}/pages?limit=2").get_json()
    return body


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b["results"][0].pop("subtype"), "'subtype' is missing"),
        (lambda b: b["results"][0].update(colour="red"), "Additional properties"),
        (lambda b: b["results"][0].update(id=12), "12 is not of type 'string'"),
        (lambda b: b["results"][0].update(status="bogus"), "'bogus' is not one of"),
        (lambda b: b["results"][0]["version"].update(number="3"), "'3' is not of type 'integer'"),
        (lambda b: b["results"][0].update(ownerId=None, authorId=None), "None is not of type 'string'"),
        (lambda b: b["_links"].update(next=5), "5 is not of type 'string'"),
    ],
)
def test_a_wrong_body_is_rejected(
    emulator_api: Confluence, state: EmulatorState, mutate: Any, expected: str
) -> None:
    good = _page_answer(emulator_api, state)
    schema = openapi.response_schema("GET", "/spaces/{id}/pages", 200)
    assert schema is not None
    assert openapi.problems(good, schema) == []
    bad = copy.deepcopy(good)
    mutate(bad)
    found = openapi.problems(bad, schema)
    assert any(expected in p for p in found), found


def test_merged_all_of_is_closed_and_nullable_is_honoured(
    emulator_api: Confluence, state: EmulatorState
) -> None:
    page = next(c for c in state.site.content.values() if c.parent_id is None and c.kind == "page")
    good = emulator_api.get(f"{PREFIX}/pages/{page.id}").get_json()
    schema = openapi.response_schema("GET", "/pages/{id}", 200)
    assert schema is not None
    assert good["parentId"] is None and openapi.problems(good, schema) == []
    assert good["_links"]["base"] == state.site.base_url
    bad = copy.deepcopy(good)
    bad["_links"]["bogus"] = "x"
    bad["subtype"] = None  # a PageBulk field, not a PageSingle one
    found = openapi.problems(bad, schema)
    assert any("'bogus'" in p for p in found) and any("'subtype'" in p for p in found), found


def test_wrong_statuses_and_error_bodies_are_rejected(emulator_app: Flask, emulator_api: Confluence) -> None:
    response = emulator_api.get(f"{PREFIX}/pages/1")
    assert check("GET", "/pages/{id}", response) == []
    # /pages declares no 404, so a 404 from it would be reported.
    assert any("not declared" in p for p in check("GET", "/pages", response))
    assert openapi.error_problems({"statusCode": 404, "message": "x"}, 404)
    assert openapi.error_problems(response.get_json(), 400) == ["error status differs from HTTP 400"]
