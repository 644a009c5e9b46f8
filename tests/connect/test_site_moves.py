"""A site move is carried out only when the new installation answers at the address it claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from app.jobs.queue import get_queue, run_pending
from app.reports.settings import ReportSettings, load_settings, save_settings
from app.tenants.models import Tenant
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.confluence import FakeConfluence
from tests.kit.constants import APP_KEY


def run_all_jobs(app: Flask) -> None:
    run_pending(get_queue(app), now=datetime.now(UTC) + timedelta(days=1))


def state(app: Flask, client_key: str) -> tuple[bool, str | None, int]:
    with app.app_context(), app.extensions["db"]() as session:
        tenant = session.get(Tenant, client_key)
        assert tenant is not None
        return tenant.installed, tenant.superseded_by, load_settings(session, client_key).stale_days


def test_another_site_claiming_the_address_takes_nothing_over(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    with app.app_context(), app.extensions["db"]() as session:
        save_settings(session, installed_site.client_key, ReportSettings(stale_days=21), updated_by=None)
    intruder = Site(base_url=installed_site.base_url)  # its secret is unknown to the site at that address
    assert install(client, atlassian, intruder).status_code == 204
    run_all_jobs(app)
    assert state(app, installed_site.client_key) == (True, None, 21)
    assert state(app, intruder.client_key) == (True, None, ReportSettings().stale_days)


def test_the_site_that_really_moved_takes_over(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site, confluence: FakeConfluence
) -> None:
    with app.app_context(), app.extensions["db"]() as session:
        save_settings(session, installed_site.client_key, ReportSettings(stale_days=21), updated_by=None)
    moved = Site(
        base_url=installed_site.base_url,
        on_install=lambda s: confluence.register(APP_KEY, s.shared_secret, oauth_client_id=s.oauth_client_id),
    )
    assert install(client, atlassian, moved).status_code == 204
    run_all_jobs(app)
    assert state(app, moved.client_key) == (True, None, 21)
    assert state(app, installed_site.client_key) == (False, moved.client_key, 21)
