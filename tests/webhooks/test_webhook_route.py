"""The webhook route: qsh-verified like every URL Confluence signs, quick, and harmless when forged."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.connect.webhooks import WEBHOOK_EVENTS
from app.jobs.queue import get_queue
from app.reports.cache import ReportCache
from app.reports.model import FreshnessReport, ReportItem, ReportScope
from app.tenants.store import TenantStore
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.store import dump_database
from tests.views.conftest import run_jobs

URL = "/webhooks/page_updated?lic=none"
OLD = datetime(2020, 1, 1, tzinfo=UTC)


def body(page_id: str = "1001", version: int = 2, at: datetime | None = None) -> dict[str, Any]:
    stamp = int((at or datetime.now(UTC)).timestamp() * 1000)
    return {
        "userAccountId": "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000001",
        "accountType": "customer",
        "page": {
            "idAsString": page_id,
            "id": int(page_id),
            "spaceKey": "DOCS",
            "title": "Updated page",
            "version": version,
            "modificationDate": stamp,
            "creationDate": int(OLD.timestamp() * 1000),
            "lastModifierAccountId": "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000001",
            "self": "https://example.atlassian.net/wiki/spaces/DOCS/pages/1001/Updated+page",
        },
        "timestamp": stamp,
    }


def seed_report(app: Flask, client_key: str) -> None:
    scope = ReportScope(space_key="DOCS")
    items = [
        ReportItem("1001", "Old page", "/spaces/DOCS/pages/1001", OLD, 1, None),
        ReportItem("1002", "Older page", "/spaces/DOCS/pages/1002", OLD - timedelta(days=1), 1, None),
    ]
    report = FreshnessReport(
        scope, datetime.now(UTC), scanned=2, stale=2, items=sorted(items, key=lambda i: i.updated_at)
    )
    with app.app_context(), app.extensions["db"]() as session:
        ReportCache(session).put(client_key, report, now=datetime.now(UTC), ttl=timedelta(hours=1))


def post(client: FlaskClient, token: str | None, payload: Any = None, url: str = URL) -> Any:
    headers = {"Authorization": f"JWT {token}"} if token else {}
    return client.post(
        url,
        data=json.dumps(payload if payload is not None else body()),
        headers=headers,
        content_type="application/json",
    )


def cached(app: Flask, client_key: str) -> FreshnessReport:
    with app.app_context(), app.extensions["db"]() as session:
        found = ReportCache(session).get(client_key, ReportScope(space_key="DOCS").cache_key)
        assert found is not None
        return found.report


def test_descriptor_declares_every_event_at_its_route(client: FlaskClient) -> None:
    declared = client.get("/atlassian-connect.json").get_json()["modules"]["webhooks"]
    assert [(w["event"], w["url"]) for w in declared] == [(e, f"/webhooks/{e}") for e in WEBHOOK_EVENTS]
    assert {"page_updated", "page_moved", "page_unarchived", "blog_removed"} <= set(WEBHOOK_EVENTS)


def test_a_signed_delivery_is_queued_and_updates_the_report(
    app: Flask, client: FlaskClient, installed_site: Site
) -> None:
    seed_report(app, installed_site.client_key)
    started = time.monotonic()
    response = post(client, installed_site.host_token("POST", URL, sub=None))
    assert response.status_code == 204, response.get_data(as_text=True)
    assert time.monotonic() - started < 1.0
    assert get_queue(app).pending_count() == 1
    assert cached(app, installed_site.client_key).stale == 2  # not applied in the request
    assert run_jobs(app) == 1
    report = cached(app, installed_site.client_key)
    assert [(item.id, item.version) for item in report.items] == [("1002", 1), ("1001", 2)]
    assert report.items[1].updated_at > datetime.now(UTC) - timedelta(minutes=1)  # fresh now
    assert report.stale == 1 and report.scanned == 2


def forged_tokens(site: Site, other: Site) -> dict[str, str]:
    now = int(time.time())
    return {
        "bad signature": site.host_token("POST", URL, sub=None, secret="x" * 40),
        "context-qsh": site.host_token("POST", URL, sub=None, qsh="context-qsh"),
        "other tenant's secret": site.host_token("POST", URL, sub=None, secret=other.shared_secret),
        "other tenant's token": other.host_token("POST", URL, sub=None, iss=site.client_key),
        "expired": site.host_token("POST", URL, sub=None, now=now - 3600),
        "replayed old iat": site.host_token("POST", URL, sub=None, now=now - 3600, lifetime=7200),
        "qsh of another event": site.host_token("POST", "/webhooks/page_created?lic=none", sub=None),
        "qsh without lic": site.host_token("POST", "/webhooks/page_updated", sub=None),
    }


@pytest.mark.parametrize(
    "case",
    [
        "bad signature",
        "context-qsh",
        "other tenant's secret",
        "other tenant's token",
        "expired",
        "replayed old iat",
        "qsh of another event",
        "qsh without lic",
        "none",
    ],
)
def test_a_forged_delivery_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site, case: str
) -> None:
    other = Site(base_url="https://other.atlassian.net/wiki")
    assert install(client, atlassian, other).status_code == 204
    seed_report(app, installed_site.client_key)
    before = dump_database(app)
    token = None if case == "none" else forged_tokens(installed_site, other)[case]
    response = post(client, token)
    assert response.status_code == 401, (case, response.get_data(as_text=True))
    assert get_queue(app).pending_count() == 0
    assert run_jobs(app) == 0
    assert dump_database(app) == before


def test_an_uninstalled_tenant_is_refused(app: Flask, client: FlaskClient, installed_site: Site) -> None:
    with app.app_context(), app.extensions["db"]() as session:
        TenantStore(session).mark_uninstalled(installed_site.client_key)
    response = post(client, installed_site.host_token("POST", URL, sub=None))
    assert response.status_code == 401
    assert get_queue(app).pending_count() == 0


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"page": "x"},
        {"blog": {}},
        {"page": {**body()["page"], "idAsString": "abc", "id": "abc"}},
        {"page": {**body()["page"], "version": 0}},
        {"page": {**body()["page"], "modificationDate": "yesterday"}},
        {"page": {**body()["page"], "spaceKey": None}},
    ],
)
def test_an_unreadable_payload_is_a_400_and_queues_nothing(
    app: Flask, client: FlaskClient, installed_site: Site, payload: Any
) -> None:
    before = dump_database(app)
    response = post(client, installed_site.host_token("POST", URL, sub=None), payload)
    assert response.status_code == 400
    assert len(response.get_data()) < 300
    assert get_queue(app).pending_count() == 0
    assert dump_database(app) == before


def test_an_unknown_event_is_a_404_after_authentication(client: FlaskClient, installed_site: Site) -> None:
    url = "/webhooks/space_created?lic=none"
    assert post(client, None, url=url).status_code == 401
    assert post(client, installed_site.host_token("POST", url, sub=None), url=url).status_code == 404


def test_duplicates_and_older_deliveries_change_nothing(
    app: Flask, client: FlaskClient, installed_site: Site
) -> None:
    seed_report(app, installed_site.client_key)
    newer, older = body(version=3), body(version=2, at=datetime.now(UTC) - timedelta(days=400))
    for payload in (newer, newer, older):
        assert post(client, installed_site.host_token("POST", URL, sub=None), payload).status_code == 204
    assert run_jobs(app) == 3
    report = cached(app, installed_site.client_key)
    assert [(item.id, item.version) for item in report.items] == [("1002", 1), ("1001", 3)]
    assert report.stale == 1
