"""The memo of rendered macro pages: a hit serves the same page with this request's values put in, and
every input that changes the page (settings, a refreshed report, the viewer's rows) makes another one."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.db import get_engine
from app.page_memo import RenderMemo
from app.reports.cache import ReportCache
from app.reports.model import ReportScope
from app.reports.settings import ReportSettings, save_settings
from app.views import render_memo
from app.views.macro import memo
from app.views.render_memo import fill
from tests.kit.atlassian import Site
from tests.kit.confluence import ADMIN_ACCOUNT, USER_ACCOUNT
from tests.views.conftest import SCANNING, EmulatorControl, run_jobs

MACRO = "/macros/freshness"
PARAMS = {"pageId": "1000001", "spaceKey": "DOCS", "staleDays": "1"}


def render(
    client: FlaskClient, site: Site, account: str | None = ADMIN_ACCOUNT, lifetime: int = 180, **params: str
) -> str:
    query = {**PARAMS, **params}
    response = client.get(site.signed_url(MACRO, query, sub=account, lifetime=lifetime))
    body = response.get_data(as_text=True)
    if SCANNING in body:
        assert run_jobs(client.application) >= 1
        response = client.get(site.signed_url(MACRO, query, sub=account, lifetime=lifetime))
        body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    return body


def without_token(body: str) -> str:
    return re.sub(r'data-scope="[^"]*"', 'data-scope=""', body)


def scope_token(body: str) -> str:
    match = re.search(r'data-scope="([^"]+)"', body)
    assert match
    return html.unescape(match.group(1))


def app_memo(app: Flask) -> RenderMemo:
    with app.app_context():
        return memo()


# -- the memo itself --------------------------------------------------------------------------------


def test_the_memo_keeps_at_most_its_bound_and_drops_the_least_recently_used() -> None:
    kept = RenderMemo(max_entries=3)
    renders: list[str] = []

    def page(name: str) -> bytes:
        return kept.get_or_render(name, lambda: renders.append(name) or f"<p>{name}</p>")

    for name in ("a", "b", "c"):
        page(name)
    assert page("a") == b"<p>a</p>" and renders == ["a", "b", "c"]  # a hit: not rendered again
    page("d")  # drops b, the least recently used
    assert len(kept) == 3
    page("b")
    assert renders == ["a", "b", "c", "d", "b"]
    for i in range(100):
        page(f"x{i}")
    assert len(kept) == 3
    with pytest.raises(ValueError):
        RenderMemo(max_entries=0)


def test_fill_escapes_what_it_puts_in() -> None:
    page = f'<p title="Überblick · 李">{render_memo.SCOPE_TOKEN}</p><p>{render_memo.COMPUTED_AGO}</p>'
    filled = fill(page.encode(), scope_token='a"b<c', computed_ago="3 min · ago")
    assert filled.decode() == '<p title="Überblick · 李">a&#34;b&lt;c</p><p>3 min · ago</p>'


# -- the macro page ---------------------------------------------------------------------------------


def test_a_second_view_is_served_from_the_memo_with_its_own_values(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    first = render(client, installed_site)
    kept = app_memo(app)
    hits = kept.hits
    second = render(client, installed_site)
    assert kept.hits == hits + 1
    assert without_token(second) == without_token(first)
    for body in (first, second):
        assert render_memo.SCOPE_TOKEN not in body and render_memo.COMPUTED_AGO not in body
        assert "Computed just now" in body
    # The token in a memoised page is this request's real one: "Show more" works with it.
    response = client.get(
        "/api/freshness/items",
        query_string={"scope": scope_token(second), "offset": "0", "limit": "5"},
        headers={"Authorization": f"JWT {installed_site.context_token()}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_computed_ago_follows_the_clock_on_a_memo_hit(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    assert "Computed just now" in render(client, installed_site)
    real_clock = app.config["CLOCK"]
    app.config["CLOCK"] = lambda: real_clock() + 5 * 60
    hits = app_memo(app).hits
    later = render(client, installed_site, lifetime=600)
    assert app_memo(app).hits == hits + 1
    assert "Computed 5 min ago" in later


def test_a_settings_save_gives_another_page(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    before = render(client, installed_site, staleDays="")
    assert "Stale (over 90 days)" in before
    with Session(get_engine(app)) as session:
        save_settings(
            session, installed_site.client_key, ReportSettings(stale_days=7, rows_per_page=3), updated_by=None
        )
    after = render(client, installed_site, staleDays="")
    assert "Stale (over 7 days)" in after and after.count('<tr class="is-') == 3
    with Session(get_engine(app)) as session:
        save_settings(
            session, installed_site.client_key, ReportSettings(stale_days=7, rows_per_page=4), updated_by=None
        )
    assert render(client, installed_site, staleDays="").count('<tr class="is-') == 4


def test_a_refreshed_report_gives_another_page(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    before = render(client, installed_site)
    scanned = re.search(r'data-testid="scanned">([^<]+)<', before)
    assert scanned
    with Session(get_engine(app)) as session:
        cache = ReportCache(session)
        cached = cache.get(installed_site.client_key, ReportScope(space_key="DOCS", stale_days=1).cache_key)
        assert cached is not None
        report = cached.report
        refreshed = dataclasses.replace(
            report, computed_at=report.computed_at + timedelta(seconds=1), scanned=report.scanned + 1000
        )
        cache.put(installed_site.client_key, refreshed, now=refreshed.computed_at, ttl=timedelta(hours=1))
    after = render(client, installed_site)
    assert f'data-testid="scanned">{report.scanned + 1000:,}<' in after
    assert f'data-testid="scanned">{report.scanned:,}<' in before


def test_viewers_whose_rows_differ_get_their_own_pages(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    ada = render(client, installed_site, ADMIN_ACCOUNT, rows="100")
    una = render(client, installed_site, USER_ACCOUNT, rows="100")
    ada_again = render(client, installed_site, ADMIN_ACCOUNT, rows="100")
    assert without_token(ada_again) == without_token(ada)
    ada_rows = set(re.findall(r"/pages/(\d+)", ada.split('id="item-rows"')[1]))
    una_rows = set(re.findall(r"/pages/(\d+)", una.split('id="item-rows"')[1]))
    assert una_rows < ada_rows, "the seed hides some DOCS pages from Una"
    anonymous = render(client, installed_site, None, rows="100")
    assert 'data-testid="rows-withheld"' in anonymous and "/pages/" not in anonymous.split("counts-note")[1]


def test_the_memo_of_an_app_stays_bounded(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    app.extensions["macro_render_memo"] = small = RenderMemo(max_entries=2)
    pages = [render(client, installed_site, rows=str(rows)) for rows in (1, 2, 3, 4)]
    assert len(small) == 2
    assert [page.count('<tr class="is-') for page in pages] == [1, 2, 3, 4]
