"""The admin page and settings: site administrators only (asked of Confluence), validated, effective."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.kit.atlassian import Site, relative_url
from tests.kit.confluence import ADMIN_ACCOUNT, USER_ACCOUNT
from tests.kit.store import snapshot
from tests.views.conftest import EmulatorControl, run_jobs

ADMIN_PAGE = "/admin/freshness"
GOOD = {"staleDays": 30, "cacheTtlMinutes": 15, "rowsPerPage": 20, "excludedSpaces": "hr, Eng"}


def save(client: FlaskClient, site: Site, body: Any, *, sub: str = ADMIN_ACCOUNT) -> Any:
    token = site.context_token(sub=sub)
    return client.post("/api/admin/settings", json=body, headers={"Authorization": f"JWT {token}"})


def settings_rows(app: Flask) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from app.db import get_engine
    from app.reports.settings import TenantSettingsRow

    with get_engine(app).connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(TenantSettingsRow.__table__)).mappings()]


def test_admin_sees_the_page(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    response = client.get(installed_site.signed_url(ADMIN_PAGE, sub=ADMIN_ACCOUNT))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'id="staleDays"' in body and "Installation health" in body


def test_non_admin_gets_403_and_nothing_rendered(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    response = client.get(installed_site.signed_url(ADMIN_PAGE, sub=USER_ACCOUNT))
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert 'id="staleDays"' not in body and "Installation health" not in body


def test_anonymous_token_gets_403(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    assert client.get(installed_site.signed_url(ADMIN_PAGE, sub=None)).status_code == 403


def test_admin_saves_and_the_macro_uses_it(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    response = save(client, installed_site, GOOD)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["settings"]["excludedSpaces"] == ["HR", "ENG"]
    [row] = settings_rows(app)
    assert (row["stale_days"], row["cache_ttl_minutes"], row["rows_per_page"]) == (30, 15, 20)
    assert row["updated_by"] == ADMIN_ACCOUNT
    client.get(installed_site.signed_url("/macros/freshness", {"spaceKey": "DOCS"}))
    run_jobs(app)
    macro = client.get(installed_site.signed_url("/macros/freshness", {"spaceKey": "DOCS"})).get_data(
        as_text=True
    )
    assert "Stale (over 30 days)" in macro
    excluded = client.get(installed_site.signed_url("/macros/freshness", {"spaceKey": "ENG"})).get_data(
        as_text=True
    )
    assert "Reports are off for this space" in excluded


def test_non_admin_save_is_403_and_changes_nothing(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    before = (snapshot(app), settings_rows(app))
    response = save(client, installed_site, GOOD, sub=USER_ACCOUNT)
    assert response.status_code == 403
    assert (snapshot(app), settings_rows(app)) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "staleDays": 0}, "staleDays"),
        ({**GOOD, "staleDays": "ninety"}, "staleDays"),
        ({**GOOD, "cacheTtlMinutes": 100000}, "cacheTtlMinutes"),
        ({**GOOD, "rowsPerPage": True}, "rowsPerPage"),
        ({**GOOD, "excludedSpaces": "DOCS, <script>"}, "excludedSpaces"),
        ({**GOOD, "excludedSpaces": 5}, "excludedSpaces"),
    ],
)
def test_invalid_settings_are_400_per_field_and_change_nothing(
    app: Flask,
    client: FlaskClient,
    installed_site: Site,
    emulator_control: EmulatorControl,
    body: dict[str, Any],
    field: str,
) -> None:
    response = save(client, installed_site, body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert settings_rows(app) == []


def test_save_needs_a_context_token(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    token = installed_site.host_token("POST", "/api/admin/settings")
    response = client.post("/api/admin/settings", json=GOOD, headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 401


def test_not_json_is_a_400(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    token = installed_site.context_token()
    response = client.post("/api/admin/settings", data="x", headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 400


def test_when_confluence_cannot_answer_the_admin_check_fails_closed(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    emulator_control.faults(fault5xxRate=1.0, retryAfter=0)
    response = client.get(installed_site.signed_url(ADMIN_PAGE, sub=ADMIN_ACCOUNT))
    assert response.status_code == 503
    assert 'id="staleDays"' not in response.get_data(as_text=True)


def test_admin_answer_is_cached_briefly(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    for _ in range(3):
        assert client.get(installed_site.signed_url(ADMIN_PAGE, sub=ADMIN_ACCOUNT)).status_code == 200
    user_routes = {k: v for k, v in emulator_control.stats()["routes"].items() if "/rest/api/user" in k}
    assert sum(user_routes.values()) == 1


def test_health_shows_rate_limit_hits(
    client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl
) -> None:
    emulator_control.faults(fault429Rate=1.0, retryAfter=0)
    client.get(installed_site.signed_url("/macros/freshness", {"spaceKey": "DOCS"}))
    assert run_jobs(client.application) == 1  # the scan meets the 429s and is put off, not slept through
    emulator_control.faults(fault429Rate=0.0)
    body = client.get(installed_site.signed_url(ADMIN_PAGE, sub=ADMIN_ACCOUNT)).get_data(as_text=True)
    import re

    match = re.search(r'data-testid="rate-limit-hits">(\d+)', body)
    assert match and int(match.group(1)) >= 1
    # The scan waits out the pause: the health panel shows it, and the queue holds its message.
    assert "0 running, 1 waiting, 0 failed" in body
    depth = re.search(r'data-testid="queue-depth">0 due now, (\d+) scheduled', body)
    assert depth and int(depth.group(1)) == 1
    assert "Last successful Confluence call" in body


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 20_000 + b"]" * 20_000,  # deeper than Python's json parser recurses: was a 500
        b'{"staleDays": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b"\xff\xfe not utf-8",
        b"{" + b'"x": 1,' * 20_000 + b'"y": 2}',  # over the size bound
    ],
)
def test_hostile_bodies_are_a_400_and_change_nothing(
    app: Flask, client: FlaskClient, installed_site: Site, emulator_control: EmulatorControl, raw: bytes
) -> None:
    token = installed_site.context_token(sub=ADMIN_ACCOUNT)
    response = client.post(
        "/api/admin/settings",
        data=raw,
        headers={"Authorization": f"JWT {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_payload"
    assert settings_rows(app) == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/admin/settings", "GET, POST"),
        ("DELETE", "/api/freshness/items", "GET"),
        ("POST", "/admin/freshness", "GET, HEAD"),
        ("POST", "/macros/freshness", "GET, HEAD"),
    ],
)
def test_a_method_the_route_does_not_serve_is_a_405_with_allow(
    client: FlaskClient,
    installed_site: Site,
    emulator_control: EmulatorControl,
    method: str,
    path: str,
    allowed: str,
) -> None:
    if path.startswith("/api/"):
        headers = {"Authorization": f"JWT {installed_site.context_token(sub=ADMIN_ACCOUNT)}"}
        response = client.open(path, method=method, headers=headers)
    else:
        url = relative_url(path, {"spaceKey": "DOCS"})
        token = installed_site.host_token(method, url, sub=ADMIN_ACCOUNT)  # qsh names the method too
        response = client.open(f"{url}&jwt={token}", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
