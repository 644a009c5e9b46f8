"""Viewer-correct reports: a viewer sees only the rows they may read, editors by name, and the rows are
withheld when Confluence cannot say. The report itself is scanned once, as the app, and shared."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from markupsafe import escape

from emulator.accounts import principal_of
from tests.kit.atlassian import Site
from tests.kit.confluence import ADMIN_ACCOUNT, USER_ACCOUNT, FakeConfluence
from tests.views.conftest import SCANNING, EmulatorControl, run_jobs

MACRO = "/macros/freshness"
#: Room for every DOCS page of the test site in one render.
PARAMS = {"pageId": "1000001", "spaceKey": "DOCS", "rows": "100", "staleDays": "1"}
ZOE = "712020:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000005"  # Zoë "Zed" <b>Ng</b> & Co
DELETED = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000099"


def render_as(client: FlaskClient, site: Site, account: str | None, **params: str) -> str:
    """The macro as ``account`` sees it (None: an anonymous viewer), its report made first if needed."""
    query = {**PARAMS, **params}
    claims: dict[str, Any] = {"sub": account} if account else {"sub": None}
    body = client.get(site.signed_url(MACRO, query, **claims)).get_data(as_text=True)
    if SCANNING in body:
        run_jobs(client.application)
        body = client.get(site.signed_url(MACRO, query, **claims)).get_data(as_text=True)
    return body


def row_ids(body: str) -> list[str]:
    table = body.split('id="item-rows"')[1] if 'id="item-rows"' in body else ""
    return re.findall(r'<a href="[^"]*/pages/(\d+)', table)


def oldest_id(body: str) -> str | None:
    match = re.search(r'class="stat stat-oldest">.*?/pages/(\d+)', body, re.S)
    return match.group(1) if match else None


def docs_ids(confluence: FakeConfluence, account: str) -> tuple[set[str], set[str]]:
    """(current DOCS pages the account may read, those it may not), per the emulator_control's own rules."""
    state = confluence.state
    site = state.site
    space = site.space_by_key("DOCS")
    assert space is not None
    current = [site.content[i] for i in site.pages_by_space[space.id] if site.content[i].status == "current"]
    user = site.user(account)
    assert user is not None
    hidden = state.access.hidden(principal_of(user))
    return {str(c.id) for c in current if c.id not in hidden}, {str(c.id) for c in current if c.id in hidden}


def items_as(client: FlaskClient, site: Site, body: str, account: str) -> tuple[int, dict[str, Any]]:
    scope = re.search(r'data-scope="([^"]+)"', body)
    assert scope
    response = client.get(
        "/api/freshness/items",
        query_string={"scope": html.unescape(scope.group(1)), "offset": "0", "limit": "100"},
        headers={"Authorization": f"JWT {site.context_token(sub=account)}"},
    )
    return response.status_code, response.get_json()


def test_una_never_sees_a_page_she_may_not_read_ada_does(
    client: FlaskClient, installed_site: Site, confluence: FakeConfluence, emulator_control: EmulatorControl
) -> None:
    una_may, una_may_not = docs_ids(confluence, USER_ACCOUNT)
    assert una_may_not, "the seed restricts some DOCS pages from Una"
    titles = {str(c.id): c.title for c in confluence.state.site.content.values()}

    ada = render_as(client, installed_site, ADMIN_ACCOUNT)  # served to Ada first, then cached
    una = render_as(client, installed_site, USER_ACCOUNT)

    assert una_may_not <= set(row_ids(ada)), "Ada and the app read the restricted pages"
    assert set(row_ids(una)) == una_may
    for page_id in una_may_not:
        assert html.escape(titles[page_id]) not in una, f"Una's macro shows {titles[page_id]!r}"
        assert f"/pages/{page_id}" not in una
    assert oldest_id(una) == row_ids(una)[0] and oldest_id(una) not in una_may_not
    # Show more, as Una: the same rows, never a restricted one.
    status, more = items_as(client, installed_site, una, USER_ACCOUNT)
    assert status == 200
    assert {item["id"] for item in more["items"]} == una_may
    assert 'data-testid="counts-note"' in una  # the line saying the counts are the app's


def test_a_page_the_app_cannot_read_is_absent_for_everyone(
    client: FlaskClient, installed_site: Site, confluence: FakeConfluence, emulator_control: EmulatorControl
) -> None:
    may, _ = docs_ids(confluence, ADMIN_ACCOUNT)
    children = confluence.state.site.children
    # A leaf (a restriction also hides what is below it), readable today by Ada and the app.
    secret_page = next(p for p in sorted(may) if not children.get(int(p)) and p != "1000001")
    control = f"{confluence.origin}/_emulator/pages/{secret_page}/restrictions"
    response = requests.post(control, json={"users": [ADMIN_ACCOUNT]}, timeout=5)  # Ada only: not the app
    assert response.status_code == 200
    try:
        ada = render_as(client, installed_site, ADMIN_ACCOUNT)
        una = render_as(client, installed_site, USER_ACCOUNT)
        assert secret_page not in row_ids(ada) and secret_page not in row_ids(una)
        scanned = int(re.search(r'data-testid="scanned">([\d,]+)<', ada).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert scanned == len(may) - 1  # the app did not see it, so the counts do not include it
    finally:
        requests.post(control, json={}, timeout=5)


def test_when_the_viewer_check_fails_the_rows_are_withheld(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    render_as(client, installed_site, ADMIN_ACCOUNT)  # the report exists; Una has not been checked yet
    emulator_control.faults(fault5xxRate=1.0, retryAfter=0)
    una = render_as(client, installed_site, USER_ACCOUNT)
    assert 'data-testid="rows-withheld"' in una and "could not check" in una
    assert row_ids(una) == [] and oldest_id(una) is None and 'id="item-rows"' not in una
    assert 'data-testid="scanned"' in una  # the summary is still there
    status, body = items_as(client, installed_site, una, USER_ACCOUNT)
    assert status == 503 and body["error"] == "viewer_unconfirmed" and "items" not in body


def test_an_anonymous_viewer_gets_no_rows(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    body = render_as(client, installed_site, None)
    assert 'data-testid="rows-withheld"' in body and "Sign in" in body and row_ids(body) == []


def test_a_warm_render_makes_at_most_two_calls_whoever_views(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    render_as(client, installed_site, ADMIN_ACCOUNT)
    for viewer in (USER_ACCOUNT, ADMIN_ACCOUNT):
        emulator_control.reset()
        render_as(client, installed_site, viewer, rows="10")
        assert emulator_control.list_calls() == 0
        assert emulator_control.stats()["total"] <= 2, emulator_control.stats()["routes"]
    emulator_control.reset()
    render_as(client, installed_site, USER_ACCOUNT, rows="10")
    assert emulator_control.stats()["total"] == 0  # the viewer's answer and the names are reused for a while


def test_editors_are_shown_by_name_escaped_and_former_users_as_such(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    body = render_as(client, installed_site, ADMIN_ACCOUNT)
    table = body.split('id="item-rows"')[1]
    assert not re.search(r"\b(557058|712020):", body), "no raw account id reaches the page"
    assert str(escape('Zoë "Zed" <b>Ng</b> & Co')) in table  # Jinja's escaping
    assert "<b>Ng</b>" not in table and "<script>alert('x')</script>" not in table
    assert "Former user" in table  # the deleted and the unknown account


@pytest.mark.parametrize("viewer", [USER_ACCOUNT, ADMIN_ACCOUNT])
def test_show_more_rows_carry_names_too(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl, viewer: str
) -> None:
    body = render_as(client, installed_site, viewer, rows="5")
    status, more = items_as(client, installed_site, body, viewer)
    assert status == 200 and more["items"]
    editors = {item["editor"] for item in more["items"]}
    assert not any(re.match(r"\d+:", editor) for editor in editors) and "Former user" in editors
    assert ZOE not in str(more) and DELETED not in str(more)


def test_the_withheld_rows_warning_names_the_site_by_its_tag_only(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    from app.observability.logs import tenant_tag

    render_as(client, installed_site, ADMIN_ACCOUNT)  # the report exists; Una has not been checked yet
    emulator_control.faults(fault5xxRate=1.0, retryAfter=0)
    stream = io.StringIO()
    url = installed_site.signed_url(MACRO, PARAMS, sub=USER_ACCOUNT)
    body = client.get(url, environ_overrides={"wsgi.errors": stream}).get_data(as_text=True)
    assert 'data-testid="rows-withheld"' in body
    warning = [line for line in stream.getvalue().splitlines() if "rows withheld" in line]
    assert warning and tenant_tag(installed_site.client_key) in warning[0]
    assert installed_site.client_key not in stream.getvalue()
