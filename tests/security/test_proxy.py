"""Forwarded headers are trusted only from configured proxies (``APP_TRUSTED_PROXY_COUNT``)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, jsonify, request

from app.config import ConfigError, from_environment
from tests.conftest import install
from tests.kit.atlassian import Atlassian, Site
from tests.kit.constants import APP_BASE_URL
from tests.security.conftest import AppFactory, assert_security_headers

SPOOFED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Port": "8443",
    "X-Forwarded-For": "203.0.113.66",
    "X-Forwarded-Prefix": "/evil",
}


def with_echo(app: Flask) -> Flask:
    """Add a test-only route that shows what the app believes about the request."""

    def echo() -> Any:
        return jsonify(
            {
                "scheme": request.scheme,
                "host": request.host,
                "remote_addr": request.remote_addr,
                "url_root": request.url_root,
                "is_secure": request.is_secure,
            }
        )

    app.add_url_rule("/test-only/echo", "test_only_echo", echo)
    return app


def test_without_the_setting_forwarded_headers_change_nothing(make_app: AppFactory) -> None:
    app = with_echo(make_app())
    assert app.config["TRUSTED_PROXY_COUNT"] == 0
    client = app.test_client()
    plain = client.get("/test-only/echo").get_json()
    spoofed = client.get("/test-only/echo", headers=SPOOFED).get_json()
    assert spoofed == plain
    assert spoofed["scheme"] == "http" and not spoofed["is_secure"]
    assert spoofed["host"] == "localhost" and spoofed["remote_addr"] == "127.0.0.1"


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_descriptor_base_url_ignores_host_and_forwarded_headers(
    make_app: AppFactory, proxies: int
) -> None:
    client = make_app(TRUSTED_PROXY_COUNT=proxies).test_client()
    response = client.get("/atlassian-connect.json", headers={**SPOOFED, "Host": "evil.example"})
    assert response.get_json()["baseUrl"] == APP_BASE_URL
    assert "evil" not in response.get_data(as_text=True)


def test_one_trusted_proxy_sets_scheme_host_and_client_from_its_own_values(make_app: AppFactory) -> None:
    app = with_echo(make_app(TRUSTED_PROXY_COUNT=1))
    client = app.test_client()
    seen = client.get(
        "/test-only/echo",
        headers={
            # the client's own (spoofed) values come first; the proxy appends the real ones last
            "X-Forwarded-Proto": "http, https",
            "X-Forwarded-Host": "evil.example, app.example.test",
            "X-Forwarded-For": "203.0.113.66, 198.51.100.7",
            "X-Forwarded-Prefix": "/evil",
        },
    )
    assert_security_headers(seen, config=app.config)
    body = seen.get_json()
    assert body["scheme"] == "https" and body["is_secure"]
    assert body["host"] == "app.example.test"
    assert body["remote_addr"] == "198.51.100.7"
    assert body["url_root"] == "https://app.example.test/"  # no /evil prefix


def test_signed_requests_still_verify_behind_a_trusted_proxy(
    make_app: AppFactory, atlassian: Atlassian, site: Site
) -> None:
    app = make_app(TRUSTED_PROXY_COUNT=1)
    client = app.test_client()
    proxy = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "app.example.test",
        "X-Forwarded-For": "1.2.3.4",
    }
    assert install(client, atlassian, site).status_code == 204
    signed = site.signed_url("/macros/freshness", [("pageId", "1"), ("spaceKey", "DOCS")])
    assert client.get(signed, headers=proxy).status_code == 200
    assert client.get("/macros/freshness", headers=proxy).status_code == 401


def test_the_setting_is_read_and_validated() -> None:
    assert from_environment({"APP_TRUSTED_PROXY_COUNT": "2"}) == {"TRUSTED_PROXY_COUNT": 2}
    with pytest.raises(ConfigError, match="APP_TRUSTED_PROXY_COUNT must be a whole number"):
        from_environment({"APP_TRUSTED_PROXY_COUNT": "all"})


@pytest.mark.parametrize("bad", [-1, 6, True, 1.5, "1"])
def test_bad_proxy_counts_stop_start_up(make_app: AppFactory, bad: Any) -> None:
    with pytest.raises(ConfigError, match="APP_TRUSTED_PROXY_COUNT"):
        make_app(TRUSTED_PROXY_COUNT=bad)
