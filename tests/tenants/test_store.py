"""The tenant store seam: the framework reads and writes tenants only through the store it was given."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import config
from app.connect.auth import require_jwt
from app.db import get_engine
from app.framework import Connect
from app.tenants.models import Tenant
from app.tenants.payloads import LifecyclePayload
from app.tenants.store import TenantStore
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.database import create_schema


class RecordingStore(TenantStore):
    """The SQLAlchemy store, noting what the framework asked of it."""

    calls: list[tuple[str, str]] = []

    def __init__(self, session: Session) -> None:
        super().__init__(session)

    def get_installed(self, client_key: str) -> Tenant | None:
        RecordingStore.calls.append(("get_installed", client_key))
        return super().get_installed(client_key)

    def save_installation(self, payload: LifecyclePayload) -> Tenant:
        RecordingStore.calls.append(("save_installation", payload.client_key))
        return super().save_installation(payload)


def test_the_framework_uses_the_store_it_was_given(
    app_overrides: dict[str, Any], database_url: str, atlassian: Atlassian, site: Site
) -> None:
    pages = Blueprint("probe", __name__)

    @pages.get("/macros/probe")
    @require_jwt()
    def probe() -> str:
        return str(g.tenant.client_key)

    create_schema(database_url)
    flask_app = Flask(__name__)
    flask_app.config.from_mapping({**config.DEFAULTS, **app_overrides})
    config.validate(flask_app.config)
    Connect(tenant_store=RecordingStore, iframe_prefixes=["/macros/"]).init_app(flask_app, blueprints=[pages])
    RecordingStore.calls.clear()
    try:
        client: FlaskClient = flask_app.test_client()
        assert install(client, atlassian, site).status_code == 204
        response = client.get(site.signed_url("/macros/probe"))
        assert response.status_code == 200 and response.get_data(as_text=True) == site.client_key
        assert RecordingStore.calls == [
            ("save_installation", site.client_key),
            ("get_installed", site.client_key),
        ]
    finally:
        get_engine(flask_app).dispose()
