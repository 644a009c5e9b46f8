"""Uninstall: the tenant is refused at once, its scans stop, and its data is purged after the retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from app.reports.cache import ReportCache
from app.reports.jobs import ScanJobs
from app.reports.model import FreshnessReport, ReportItem, ReportScope
from app.reports.settings import ReportSettings, load_settings, save_settings
from app.tenants.health import TenantHealth
from app.tenants.models import Tenant
from app.tenants.retention import purge_expired
from tests.conftest import install, uninstall
from tests.kit.atlassian import Atlassian, Site
from tests.kit.store import dump_database

SCOPE = ReportScope(space_key="DOCS")
TITLE = "Quarterly plan of the purged site"
NOW = datetime(2030, 6, 1, tzinfo=UTC)


def seed(app: Flask, client_key: str, title: str) -> None:
    """Settings, health, a report, a running scan with a checkpoint and a throttle for the tenant."""
    item = ReportItem("1", title, "/spaces/DOCS/pages/1", NOW - timedelta(days=400), 3, "557058:abc")
    report = FreshnessReport(SCOPE, NOW, scanned=1, stale=1, items=[item])
    with app.app_context(), app.extensions["db"]() as session:
        save_settings(session, client_key, ReportSettings(stale_days=12), updated_by="557058:abc")
        session.add(TenantHealth(client_key=client_key, rate_limit_hits="[]"))
        session.commit()
        ReportCache(session).put(client_key, report, now=NOW, ttl=timedelta(hours=1))
        jobs = ScanJobs(session)
        jobs.request(client_key, SCOPE, now=NOW, total_hint=None)
        claim = jobs.claim(
            client_key, SCOPE.cache_key, owner="w1", now=NOW, lease=timedelta(minutes=2), limit=1
        )
        assert claim.won
        jobs.progress(
            client_key,
            SCOPE.cache_key,
            owner="w1",
            now=NOW,
            lease=timedelta(minutes=2),
            items_read=1,
            pages_read=1,
            checkpoint={"kept": [item.to_json()]},
        )
        jobs.request(client_key, ReportScope(space_key="ENG"), now=NOW, total_hint=None)
        jobs.pause_tenant(client_key, NOW + timedelta(minutes=1))


def set_uninstalled_at(app: Flask, client_key: str, when: datetime) -> None:
    with app.app_context(), app.extensions["db"]() as session:
        tenant = session.get(Tenant, client_key)
        assert tenant is not None
        tenant.uninstalled_at = when
        session.commit()


def test_uninstall_refuses_iframes_and_apis_and_stops_every_scan(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    seed(app, installed_site.client_key, TITLE)
    assert uninstall(client, atlassian, installed_site).status_code == 204
    headers = {"Authorization": f"JWT {installed_site.context_token()}"}
    assert client.get("/api/freshness/status?scope=x", headers=headers).status_code == 401
    assert client.get(installed_site.signed_url("/admin/freshness")).status_code == 401
    with app.app_context(), app.extensions["db"]() as session:
        jobs = ScanJobs(session)
        states = {
            key: jobs.get(installed_site.client_key, key).state
            for key in ("pages:DOCS:-:90", "pages:ENG:-:90")
        }  # type: ignore[union-attr]
        assert states == {"pages:DOCS:-:90": "failed", "pages:ENG:-:90": "failed"}
        # The running scan's next progress write is refused, so it stops; a queued message is dropped.
        assert not jobs.progress(
            installed_site.client_key,
            SCOPE.cache_key,
            owner="w1",
            now=NOW,
            lease=timedelta(minutes=2),
            items_read=2,
            pages_read=2,
        )
    runner = app.extensions["scan_runner"]
    assert runner.run(installed_site.client_key, "pages:ENG:-:90") == "dropped"


def test_purge_after_the_retention_removes_every_row_and_keeps_other_tenants(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    other = Site(base_url="https://other.atlassian.net/wiki")
    assert install(client, atlassian, other).status_code == 204
    seed(app, installed_site.client_key, TITLE)
    seed(app, other.client_key, "A page the other site keeps")
    assert uninstall(client, atlassian, installed_site).status_code == 204
    set_uninstalled_at(app, installed_site.client_key, NOW)
    retention = timedelta(days=30)
    with app.app_context(), app.extensions["db"]() as session:
        assert purge_expired(session, NOW + timedelta(days=29, hours=23), retention) == []
    assert installed_site.client_key in dump_database(app)
    with app.app_context(), app.extensions["db"]() as session:
        assert purge_expired(session, NOW + timedelta(days=30, minutes=1), retention) == [
            installed_site.client_key
        ]
    dump = dump_database(app)
    assert installed_site.client_key not in dump
    assert TITLE not in dump
    assert installed_site.shared_secret not in dump
    assert other.client_key in dump and "A page the other site keeps" in dump
    assert sum(1 for line in dump.splitlines() if other.client_key in line) >= 6


def test_a_reinstall_within_the_retention_restores_the_settings(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    seed(app, installed_site.client_key, TITLE)
    assert uninstall(client, atlassian, installed_site).status_code == 204
    assert install(client, atlassian, installed_site).status_code == 204
    with app.app_context(), app.extensions["db"]() as session:
        assert load_settings(session, installed_site.client_key).stale_days == 12
        tenant = session.get(Tenant, installed_site.client_key)
        assert tenant is not None and tenant.installed and tenant.uninstalled_at is None
        assert purge_expired(session, datetime.now(UTC) + timedelta(days=365), timedelta(days=30)) == []


def test_purge_command_asks_first(app: Flask, installed_site: Site) -> None:
    seed(app, installed_site.client_key, TITLE)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["tenants", "purge", installed_site.client_key], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert installed_site.client_key in dump_database(app)
    done = runner.invoke(args=["tenants", "purge", installed_site.client_key, "--yes"])
    assert done.exit_code == 0, done.output
    assert installed_site.client_key not in dump_database(app)
    assert TITLE not in dump_database(app)
    unknown = runner.invoke(args=["tenants", "purge", "nobody", "--yes"])
    assert unknown.exit_code == 1 and "No tenant" in unknown.output
