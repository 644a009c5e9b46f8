"""The freshness macro against the emulator_control: figures, escaping, caching, parameters, error states."""

from __future__ import annotations

import html
import math
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.db import get_engine
from app.reports.settings import ReportSettings, save_settings
from tests.kit.atlassian import Site
from tests.kit.confluence import FakeConfluence
from tests.views.conftest import SCANNING, EmulatorControl, run_jobs

MACRO = "/macros/freshness"
PARAMS = {"pageId": "1000001", "spaceKey": "DOCS", "xdm_e": "http://127.0.0.1", "cp": "/wiki", "lic": "none"}


def render(client: FlaskClient, site: Site, *, wait: bool = True, **params: str) -> tuple[int, str]:
    """Render the macro; if its first scan is under way and ``wait``, run the jobs and render again."""
    response = client.get(site.signed_url(MACRO, {**PARAMS, **params}))
    if wait and SCANNING in response.get_data(as_text=True):
        assert run_jobs(client.application) >= 1
        response = client.get(site.signed_url(MACRO, {**PARAMS, **params}))
    return response.status_code, response.get_data(as_text=True)


def figure(body: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]+)<', body)
    assert match, f"no {testid} in the page"
    return match.group(1)


def current_docs_pages(confluence: FakeConfluence) -> int:
    site = confluence.state.site
    space = site.space_by_key("DOCS")
    assert space is not None
    return sum(1 for page_id in site.pages_by_space[space.id] if site.content[page_id].status == "current")


def test_renders_summary_and_stalest_rows(
    client: FlaskClient, installed_site: Site, confluence: FakeConfluence, emulator_control: EmulatorControl
) -> None:
    status, body = render(client, installed_site, rows="5")
    assert status == 200, body
    scanned = int(figure(body, "scanned").replace(",", ""))
    assert scanned == current_docs_pages(confluence)
    assert int(figure(body, "stale").replace(",", "")) <= scanned
    assert body.count('<tr class="is-') == 5
    assert 'id="show-more"' in body and "hidden>" not in body.split('id="show-more"')[1][:40]
    # Links are built from the tenant's displayUrl and the item's webui link.
    assert f'href="{confluence.base_url}/spaces/DOCS/pages/' in body


def test_titles_from_confluence_are_escaped(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    status, body = render(client, installed_site, rows="100", staleDays="1")
    assert status == 200
    assert "<b>bold</b>" not in body and "<script>" not in body.split("<body>")[1].replace("<script src=", "")
    assert html.escape("<b>bold</b>") in body or "&lt;b&gt;" in body


def test_second_render_within_the_ttl_makes_no_confluence_call(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl, confluence: FakeConfluence
) -> None:
    assert render(client, installed_site)[0] == 200
    first = emulator_control.list_calls()
    assert first == math.ceil(current_docs_pages(confluence) / 250)
    emulator_control.reset()
    assert render(client, installed_site)[0] == 200
    assert emulator_control.stats()["total"] == 0


def test_parameters_change_the_scope(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl, confluence: FakeConfluence
) -> None:
    site = confluence.state.site
    space = site.space_by_key("DOCS")
    assert space is not None
    ids = site.blogposts_by_space.get(space.id, [])
    blogposts = sum(1 for i in ids if site.content[i].status == "current")
    _, blog = render(client, installed_site, contentType="blogposts")
    if blogposts:
        assert int(figure(blog, "scanned").replace(",", "")) == blogposts
    else:
        assert "no blog posts" in blog
    _, strict = render(client, installed_site, staleDays="1")
    _, lenient = render(client, installed_site, staleDays="3650")
    assert int(figure(strict, "stale").replace(",", "")) > int(figure(lenient, "stale").replace(",", ""))
    assert "Stale (over 1 days)" in strict


def test_root_page_limits_the_report_to_its_descendants(
    client: FlaskClient, installed_site: Site, confluence: FakeConfluence, emulator_control: EmulatorControl
) -> None:
    site = confluence.state.site
    space = site.space_by_key("DOCS")
    assert space is not None

    def under(page_id: int, root: int) -> bool:
        # Through current or archived parents: Confluence moves a trashed page's children up.
        parent = site.content[page_id].parent_id
        while (
            parent is not None and parent != root and site.content[parent].status in {"current", "archived"}
        ):
            parent = site.content[parent].parent_id
        return parent == root

    for root in (space.homepage_id, site.children[space.homepage_id][0]):
        expected = sum(
            1
            for pid in site.pages_by_space[space.id]
            if site.content[pid].status == "current" and under(pid, root)
        )
        status, subtree = render(client, installed_site, root=str(root))
        assert status == 200
        assert int(figure(subtree, "scanned").replace(",", "")) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"spaceKey": "", "space": ""}, "no space"),
        ({"space": "no spaces!"}, "not a valid space key"),
        ({"root": "12a"}, "digits only"),
        ({"contentType": "whiteboards"}, "pages or blog posts"),
        ({"staleDays": "0"}, "from 1 to 3650"),
        ({"rows": "1000"}, "from 1 to 100"),
    ],
)
def test_bad_parameters_get_a_400_with_a_plain_message(
    client: FlaskClient, installed_site: Site, params: dict[str, str], message: str
) -> None:
    status, body = render(client, installed_site, **params)
    assert status == 400
    assert message in html.unescape(body)
    assert "Traceback" not in body


def test_unknown_space_is_a_friendly_not_found(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    status, body = render(client, installed_site, space="NOPE")
    assert status == 200 and "The report could not be made" in body
    assert "No space with key" in html.unescape(body)


def test_confluence_down_is_a_friendly_error_not_a_500(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    emulator_control.faults(fault5xxRate=1.0, retryAfter=0)
    status, body = render(client, installed_site, space="ENG")
    # The job backs off and tries again later; meanwhile the page says what is going on.
    assert status == 200 and SCANNING in body
    assert "Confluence did not answer" in body or "slow down" in body
    assert "Traceback" not in body and "503" not in body


def test_rate_limited_says_so(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    emulator_control.faults(fault429Rate=1.0, retryAfter=0)
    status, body = render(client, installed_site, space="HR")
    assert status == 200 and SCANNING in body
    assert "Confluence asked us to slow down" in body


def test_excluded_space_renders_no_report(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    from sqlalchemy.orm import Session

    with Session(get_engine(app)) as session:
        save_settings(
            session, installed_site.client_key, ReportSettings(excluded_spaces=("DOCS",)), updated_by=None
        )
    status, body = render(client, installed_site)
    assert status == 200 and "Reports are off for this space" in body
    assert emulator_control.stats()["total"] == 0


def test_admin_default_threshold_applies_when_the_macro_sets_none(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    from sqlalchemy.orm import Session

    with Session(get_engine(app)) as session:
        save_settings(
            session, installed_site.client_key, ReportSettings(stale_days=7, rows_per_page=3), updated_by=None
        )
    status, body = render(client, installed_site)
    assert status == 200
    assert "Stale (over 7 days)" in body
    assert body.count('<tr class="is-') == 3


def test_error_pages_are_rendered_once_per_message_and_stay_exact(
    app: Flask, client: FlaskClient, installed_site: Site
) -> None:
    """Refused iframe loads share one kept page per message; a different message is its own page."""
    forged = [
        installed_site.signed_url("/macros/freshness", {"n": str(i)}, secret="x" * 40) for i in range(3)
    ]
    bodies = [client.get(url) for url in forged]
    assert {response.status_code for response in bodies} == {401}
    assert len({response.get_data(as_text=True) for response in bodies}) == 1
    assert "signature" in bodies[0].get_data(as_text=True)
    unknown = Site(base_url=installed_site.base_url).signed_url("/macros/freshness")
    other = client.get(unknown)
    assert other.status_code == 401 and "not an installed site" in other.get_data(as_text=True)
    assert len(app.extensions["error_page_memo"]) == 2
