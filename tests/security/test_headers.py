"""The security headers on every kind of response (200, 401, 404, 405, 500, static), and a 500 that
shows nothing of the failure: no trace, no exception text, no SQL, no secret, no token."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy.exc import IntegrityError

from app import http_headers
from app.connect.auth import require_jwt
from app.db import get_engine
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.constants import APP_BASE_URL
from tests.security.conftest import AppFactory, assert_security_headers, csp_directives

BOOM_SQL = "INSERT INTO tenant (client_key, shared_secret) VALUES (?, ?)"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_descriptor_200(app: Flask, client: FlaskClient) -> None:
    response = client.get("/atlassian-connect.json")
    assert response.status_code == 200
    assert_security_headers(response, config=app.config)


def test_module_route_200_is_framed_only_by_its_tenant(
    app: Flask, client: FlaskClient, installed_site: Site
) -> None:
    response = client.get(
        installed_site.signed_url("/macros/freshness", [("pageId", "1"), ("spaceKey", "DOCS")])
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_security_headers(response, config=app.config, frame_ancestors=[origin(installed_site.base_url)])


def test_frame_ancestors_lists_base_and_display_url_origins(
    make_app: AppFactory, atlassian: Atlassian, site: Site
) -> None:
    app = make_app()
    app.add_url_rule("/test-only/page", "test_only_page", require_jwt()(lambda: "framed page"))
    client = app.test_client()
    assert install(client, atlassian, site, displayUrl="https://docs.acme.example").status_code == 204
    response = client.get(site.signed_url("/test-only/page"))
    assert response.status_code == 200
    expected = sorted({origin(site.base_url), "https://docs.acme.example"})
    assert_security_headers(response, config=app.config, frame_ancestors=expected)


def test_401_404_405(app: Flask, client: FlaskClient) -> None:
    for path, method, status in [
        ("/macros/freshness", "GET", 401),
        ("/no-such-page", "GET", 404),
        ("/atlassian-connect.json", "POST", 405),
    ]:
        response = client.open(path, method=method)
        assert response.status_code == status
        assert_security_headers(response, config=app.config)
        assert "Traceback" not in response.get_data(as_text=True)
    assert "GET" in client.post("/atlassian-connect.json").headers["Allow"]


def test_static_assets_are_cacheable_but_carry_the_other_headers(app: Flask, client: FlaskClient) -> None:
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert_security_headers(response, config=app.config, static=True)
    response.close()
    missing = client.get("/static/no-such-file.css")
    assert missing.status_code == 404
    assert_security_headers(missing, config=app.config)


def _raise_integrity_error(secret: str) -> Any:
    def view() -> Any:
        raise IntegrityError(
            BOOM_SQL, ("site-1", secret), Exception("UNIQUE constraint failed: tenant.client_key")
        )

    return view


@pytest.mark.parametrize("testing", [True, False])
def test_500_shows_nothing_of_the_failure(
    make_app: AppFactory, atlassian: Atlassian, site: Site, caplog: pytest.LogCaptureFixture, testing: bool
) -> None:
    app = make_app(TESTING=testing)
    assert not app.debug
    app.add_url_rule("/test-only/boom", "test_only_boom", _raise_integrity_error(site.shared_secret))
    app.add_url_rule(
        "/test-only/signed-boom",
        "test_only_signed_boom",
        require_jwt()(_raise_integrity_error(site.shared_secret)),
    )
    client = app.test_client()
    assert install(client, atlassian, site).status_code == 204
    signed = site.signed_url("/test-only/signed-boom")
    token = signed.split("jwt=", 1)[1]
    caplog.set_level(logging.INFO)
    for url, ancestors in [("/test-only/boom", None), (signed, [origin(site.base_url)])]:
        response = client.get(url)
        assert response.status_code == 500
        assert_security_headers(response, config=app.config, frame_ancestors=ancestors)
        body = response.get_data(as_text=True)
        for leak in ("Traceback", "IntegrityError", "INSERT", "UNIQUE", site.shared_secret, token):
            assert leak not in body
        assert response.get_json() == {
            "error": "internal_error",
            "message": "Something went wrong on our side.",
        }
    assert "IntegrityError" in caplog.text  # we do get the trace in our own log ...
    assert site.shared_secret not in caplog.text and token not in caplog.text
    assert "parameters hidden" in caplog.text  # ... without the SQL parameters


def test_500_from_a_broken_database_keeps_the_headers(
    make_app: AppFactory, atlassian: Atlassian, site: Site
) -> None:
    app = make_app(TESTING=False)
    client = app.test_client()
    assert install(client, atlassian, site).status_code == 204
    engine = get_engine(app)
    cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""  # other tables refer to it
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE tenant{cascade}"))
    response = client.get(site.signed_url("/macros/freshness", [("pageId", "1"), ("spaceKey", "DOCS")]))
    assert response.status_code == 500
    assert_security_headers(response, config=app.config)
    body = response.get_data(as_text=True)
    assert "tenant" not in body.lower() and "sql" not in body.lower() and "Traceback" not in body


def test_csp_falls_back_to_none_when_the_tenant_cannot_be_read(app: Flask) -> None:
    class Broken:
        @property
        def base_url(self) -> str:
            raise RuntimeError("session is closed")

        display_url = None

    with app.test_request_context("/macros/freshness"):
        g.tenant = Broken()
        assert http_headers.frame_ancestors() == "'none'"
        response = http_headers.set_security_headers(app.response_class("x"))
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Strict-Transport-Security"]


def test_script_src_follows_the_configured_all_js(make_app: AppFactory) -> None:
    app = make_app(ALL_JS_URL="https://cdn.example.test/connect/all.js")
    response = app.test_client().get("/atlassian-connect.json")
    assert "https://cdn.example.test" in csp_directives(response)["script-src"]
    assert_security_headers(response, config=app.config)


def test_hsts_is_sent_whatever_the_base_url(make_app: AppFactory) -> None:
    # The header is harmless over plain http (browsers ignore it there) and required over https.
    for base in (APP_BASE_URL, "http://localhost:5000"):
        response = make_app(BASE_URL=base).test_client().get("/no-such-page")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
