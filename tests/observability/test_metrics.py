"""/metrics in one process: who may read it, and that each figure moves with what the app did.

Label values must not grow with tenants or URLs: the exposition never names a clientKey, a page id or
a raw path. The same endpoint across two gunicorn workers and a job worker is in ``test_processes.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from app import create_app
from app.db import get_engine
from app.jobs.queue import get_queue, run_pending
from app.observability import metrics
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.database import create_schema

TOKEN = "test-metrics-token-0123456789abcdef"
MACRO = "/macros/freshness"
PARAMS = {"pageId": "1000001", "spaceKey": "DOCS", "xdm_e": "http://127.0.0.1", "cp": "/wiki", "lic": "none"}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def app(app_overrides: dict[str, Any], database_url: str) -> Iterator[Flask]:
    create_schema(database_url)
    application = create_app({**app_overrides, "METRICS_TOKEN": TOKEN})
    yield application
    get_engine(application).dispose()
    application.extensions["health_engine"].dispose()


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return response.get_data(as_text=True)


def test_metrics_is_off_without_a_token(app_overrides: dict[str, Any], database_url: str) -> None:
    create_schema(database_url)
    app = create_app(app_overrides)
    assert app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    get_engine(app).dispose()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", f"JWT {TOKEN}", "Bearer "],
)
def test_metrics_refuses_anything_but_the_token(client: FlaskClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "freshness_" not in response.get_data(as_text=True)


def test_requests_are_counted_by_route_template_never_by_raw_url(
    client: FlaskClient, installed_site: Site
) -> None:
    ok_before = value("freshness_http_requests_total", route=MACRO, method="GET", status="200")
    lost_before = value("freshness_http_requests_total", route="unmatched", method="GET", status="404")
    for page_id in ("111111", "222222"):
        response = client.get(installed_site.signed_url(MACRO, {**PARAMS, "pageId": page_id}))
        assert response.status_code == 200
    assert client.get("/wiki/spaces/SECRETSPACE/pages/333333").status_code == 404
    assert value("freshness_http_requests_total", route=MACRO, method="GET", status="200") == ok_before + 2
    lost = value("freshness_http_requests_total", route="unmatched", method="GET", status="404")
    assert lost == lost_before + 1
    assert value("freshness_http_request_duration_seconds_count", route=MACRO, method="GET") >= 2
    text = scrape(client)
    for raw in ("111111", "222222", "333333", "SECRETSPACE", installed_site.client_key, "jwt="):
        assert raw not in text, raw


def test_jwt_refusals_are_counted_by_reason(client: FlaskClient, installed_site: Site) -> None:
    def refused(reason: str) -> float:
        return value("freshness_jwt_refusals_total", reason=reason)

    before = {reason: refused(reason) for reason in metrics.REFUSAL_REASONS}
    url = installed_site.signed_url(MACRO, PARAMS)
    assert client.get(MACRO).status_code == 401  # missing
    assert client.get(url + "&extra=1").status_code == 401  # qsh_mismatch
    assert client.get(installed_site.signed_url(MACRO, PARAMS, secret="x" * 40)).status_code == 401
    assert client.get(Site().signed_url(MACRO, PARAMS)).status_code == 401  # unknown_issuer
    assert client.get(f"{MACRO}?jwt=not.a.token").status_code == 401  # malformed
    after = {reason: refused(reason) for reason in metrics.REFUSAL_REASONS}
    moved = {reason: after[reason] - before[reason] for reason in after if after[reason] != before[reason]}
    assert moved == {"missing": 1, "qsh_mismatch": 1, "bad_signature": 1, "unknown_issuer": 1, "malformed": 1}


def test_a_scan_moves_the_cache_scan_and_confluence_figures(
    client: FlaskClient, installed_site: Site
) -> None:
    before = {
        "miss": value("freshness_report_cache_total", result="miss"),
        "hit": value("freshness_report_cache_total", result="hit"),
        "queued": value("freshness_scan_jobs_queued_total", trigger="view"),
        "done": value("freshness_scan_runs_total", outcome="done"),
        "pages": value("freshness_scan_pages_read_total"),
        "pages_calls": value(
            "freshness_confluence_requests_total",
            endpoint="/wiki/api/v2/spaces/{id}/pages",
            method="GET",
            status="200",
        ),
    }
    url = installed_site.signed_url(MACRO, PARAMS)
    assert 'class="freshness scanning"' in client.get(url).get_data(as_text=True)
    assert run_pending(get_queue(client.application)) == 1
    assert client.get(installed_site.signed_url(MACRO, PARAMS)).status_code == 200
    pages = value("freshness_scan_pages_read_total") - before["pages"]
    assert value("freshness_report_cache_total", result="miss") == before["miss"] + 1
    assert value("freshness_report_cache_total", result="hit") == before["hit"] + 1
    assert value("freshness_scan_jobs_queued_total", trigger="view") == before["queued"] + 1
    assert value("freshness_scan_runs_total", outcome="done") == before["done"] + 1
    assert value("freshness_scan_run_duration_seconds_count", outcome="done") >= 1
    assert pages >= 1
    calls = value(
        "freshness_confluence_requests_total",
        endpoint="/wiki/api/v2/spaces/{id}/pages",
        method="GET",
        status="200",
    )
    assert calls - before["pages_calls"] == pages  # one list call per page of results

    text = scrape(client)
    assert re.search(r'^freshness_tenants\{state="active"\} 1\.0$', text, re.MULTILINE), text
    assert re.search(r'^freshness_scan_jobs\{state="done"\} 1\.0$', text, re.MULTILINE)
    assert "freshness_database_up 1.0" in text
    endpoints = set(re.findall(r'freshness_confluence_requests_total\{endpoint="([^"]+)"', text))
    assert endpoints and all(not re.search(r"/\d", endpoint) for endpoint in endpoints), endpoints


def test_the_scrape_answers_when_the_database_does_not(
    app_overrides: dict[str, Any], atlassian: Atlassian, site: Site, tmp_path: Any
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    url = f"sqlite:///{folder / 'app.db'}"
    create_schema(url)
    app = create_app({**app_overrides, "DATABASE_URL": url, "METRICS_TOKEN": TOKEN})
    client = app.test_client()
    assert install(client, atlassian, site).status_code == 204
    folder.rename(tmp_path / "away")
    get_engine(app).dispose()
    text = scrape(client)
    assert "freshness_database_up 0.0" in text and "freshness_http_requests_total" in text
    get_engine(app).dispose()


SITE = "https://a.atlassian.net/wiki"
TEMPLATES = [
    (f"{SITE}/api/v2/spaces/98310/pages?cursor=abc&limit=250", "/wiki/api/v2/spaces/{id}/pages"),
    (f"{SITE}/api/v2/pages/123/children", "/wiki/api/v2/pages/{id}/children"),
    (f"{SITE}/api/v2/spaces?keys=DOCS", "/wiki/api/v2/spaces"),
    (f"{SITE}/rest/api/user?accountId=5b10a2844c20165700ede21g", "/wiki/rest/api/user"),
    (f"{SITE}/rest/api/space/DOCS", "/wiki/rest/api/space/{id}"),
    (
        f"{SITE}/rest/api/content/77/restriction/byOperation/read",
        "/wiki/rest/api/content/{id}/restriction/byOperation/read",
    ),
    (f"{SITE}/rest/api/user/~5b10a2844c20165700ede21g", "/wiki/rest/api/user/{id}"),
    (f"{SITE}/api/v2/pages/0f8e9b2a-aaaa-4bbb-8ccc-123456789abc", "/wiki/api/v2/pages/{id}"),
    ("https://auth.atlassian.io/oauth2/token", "/oauth2/token"),
]


@pytest.mark.parametrize(("url", "template"), TEMPLATES)
def test_confluence_endpoints_become_templates(url: str, template: str) -> None:
    assert metrics.endpoint_template(url) == template


def test_endpoint_templates_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_endpoints", set())
    for number in range(metrics.MAX_ENDPOINTS):
        url = f"https://x/wiki/api/word{'x' * (number % 30)}/n{chr(97 + number % 26)}"
        assert metrics.endpoint_template(url) != "other"
    assert metrics.endpoint_template("https://x/wiki/api/v2/brandnew") == "other"


def test_request_series_stay_bounded_whatever_methods_clients_send() -> None:
    # Series are kept by (route, method as sent, status) for speed; a client chooses the method.
    labels = {"route": "/bounded", "method": "other", "status": "405"}
    before = value("freshness_http_requests_total", **labels)
    for n in range(metrics._MAX_REQUEST_SERIES + 50):
        metrics.observe_request("/bounded", f"X{n}", 405, 0.001)
    assert len(metrics._request_series) <= metrics._MAX_REQUEST_SERIES
    after = value("freshness_http_requests_total", **labels)
    assert after - before == metrics._MAX_REQUEST_SERIES + 50  # every one counted, as "other"
