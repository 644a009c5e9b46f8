"""Fixtures for the security tests: an app with extra settings, and the header checks every response
must pass (Atlassian's security requirements for cloud apps, docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from app import create_app
from app.db import get_engine
from tests.kit.database import create_schema

AppFactory = Callable[..., Flask]

#: Referrer policies under which a browser never sends a URL's path or query (so never our ``?jwt=``)
#: in ``Referer``: none at all, or the origin only (W3C Referrer Policy,
#: https://www.w3.org/TR/referrer-policy/#referrer-policies). Not ``same-origin``,
#: ``origin-when-cross-origin`` or ``strict-origin-when-cross-origin``: they send the full URL, query
#: included, on same-origin requests (our CSS, JS and ``/api`` calls), so the token reaches access logs.
REFERRER_POLICIES_WITHOUT_QUERY = frozenset({"no-referrer", "origin", "strict-origin"})


@pytest.fixture
def make_app(app_overrides: dict[str, Any], database_url: str) -> Iterator[AppFactory]:
    """Build apps like the ``app`` fixture, with more overrides; each is disposed of afterwards."""
    create_schema(database_url)
    built: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        application = create_app(app_overrides | overrides)
        built.append(application)
        return application

    yield factory
    for application in built:
        get_engine(application).dispose()


def csp_directives(response: TestResponse) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as ``{directive: [sources]}``."""
    policy = response.headers.get("Content-Security-Policy", "")
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(
    response: TestResponse,
    *,
    config: Mapping[str, Any],
    frame_ancestors: list[str] | None = None,
    static: bool = False,
) -> None:
    """Assert the headers every response carries; ``frame_ancestors`` defaults to ``'none'``."""
    headers = response.headers
    where = f"{response.request.method} {response.request.path} -> {response.status_code}"
    assert headers.get("Strict-Transport-Security") == "max-age=31536000; includeSubDomains", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in REFERRER_POLICIES_WITHOUT_QUERY, where
    assert "X-Frame-Options" not in headers, where
    cache_control = {d.strip() for d in headers.get("Cache-Control", "").split(",")}
    if static:
        assert "no-store" not in cache_control, where
    else:
        assert {"no-cache", "no-store"} <= cache_control, where
        assert "private" not in cache_control and "public" not in cache_control, where
    csp = csp_directives(response)
    assert csp.get("frame-ancestors") == (frame_ancestors or ["'none'"]), where
    all_js = urlsplit(config["ALL_JS_URL"])
    assert f"{all_js.scheme}://{all_js.netloc}" in csp.get("script-src", []), where
    assert "'unsafe-inline'" not in csp.get("script-src", []), where
    assert csp.get("default-src") == ["'none'"], where
    assert "Set-Cookie" not in headers, where
