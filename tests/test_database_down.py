"""With the database gone, every route answers 503 with Retry-After and a plain page, never a 500,
and the app recovers by itself (no restart) when the database is back.

PostgreSQL (TEST_DATABASE_URL): the app talks to it through a loopback TCP proxy that the test cuts
and restores. SQLite: the database file's folder is moved away and back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from app import create_app
from app.db import get_engine
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.database import create_schema, fresh_database_url
from tests.kit.tcp_proxy import TcpProxy

ROUTES = [
    ("GET", "/macros/freshness", [("pageId", "1"), ("spaceKey", "DOCS")]),
    ("GET", "/admin/freshness", []),
]


@contextmanager
def breakable_database(tmp_path: Path) -> Iterator[tuple[str, Any, Any]]:
    """Yield (url, cut, restore) for the suite's database."""
    if os.environ.get("TEST_DATABASE_URL"):
        real = make_url(fresh_database_url(tmp_path))
        proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).restore()
        try:
            yield (
                real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                proxy.cut,
                proxy.restore,
            )
        finally:
            proxy.cut()
        return
    folder = tmp_path / "data"
    folder.mkdir()
    away = tmp_path / "data-away"
    url = f"sqlite:///{folder / 'app.db'}"
    yield url, lambda: folder.rename(away), lambda: away.rename(folder)


def test_every_route_answers_503_while_the_database_is_down_and_recovers(
    tmp_path: Path, app_overrides: dict[str, Any], atlassian: Atlassian, site: Site
) -> None:
    with breakable_database(tmp_path) as (url, cut, restore):
        create_schema(url)
        app = create_app({**app_overrides, "DATABASE_URL": url, "TESTING": False})
        client: FlaskClient = app.test_client()
        assert install(client, atlassian, site).status_code == 204

        cut()
        get_engine(app).dispose()  # a process that starts (or whose connections drop) while it is down
        for method, path, query in ROUTES:
            response = client.open(site.signed_url(path, query), method=method)
            assert response.status_code == 503, (path, response.status_code)
            assert response.headers["Retry-After"] == "30"
            body = response.get_data(as_text=True)
            assert "briefly unavailable" in body and "Traceback" not in body and "sqlite" not in body.lower()
        api = client.get("/api/freshness/items", headers={"Authorization": f"JWT {site.context_token()}"})
        assert api.status_code == 503 and api.get_json()["error"] == "database_unavailable"

        restore()
        for method, path, query in ROUTES[:1]:
            response = client.open(site.signed_url(path, query), method=method)
            assert response.status_code == 200, response.get_data(as_text=True)
        get_engine(app).dispose()


@pytest.mark.parametrize("text", ["no such table: tenant", "no such column: tenant.x"])
def test_a_broken_schema_is_a_bug_not_an_outage(text: str) -> None:
    from sqlalchemy.exc import OperationalError

    from app.error_pages import is_database_down

    assert not is_database_down(OperationalError("SELECT 1", {}, Exception(text)))
    assert is_database_down(OperationalError("SELECT 1", {}, Exception("unable to open database file")))
