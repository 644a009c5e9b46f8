"""The process environment never reaches a request's environ (granian copies it into every one)."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from app.connect.auth import authenticated_by
from app.server_environ import StripProcessEnvironment, process_names


def test_process_variables_are_dropped_and_request_variables_kept(app: Flask) -> None:
    seen: dict[str, Any] = {}

    @authenticated_by("public")
    def look() -> str:
        seen.update(request.environ)
        return "ok"

    app.add_url_rule("/__look", "look", look)
    passed = {
        "APP_SECRET_KEY": "s3cret",
        "APP_SECRETS_KEYS": "fernet-key",
        "APP_LATE": "set after start-up",
        "PATH": "/usr/bin",
        "HOME": "/root",
    }
    names = process_names([*passed, "REQUEST_METHOD", "HTTP_HOST", "wsgi.errors", "SERVER_NAME"])
    app.wsgi_app = StripProcessEnvironment(app.wsgi_app, names - {"APP_LATE"})  # type: ignore[method-assign]
    response = app.test_client().get("/__look?x=1", environ_base=passed)
    assert response.status_code == 200
    assert not set(passed) & set(seen)
    assert seen["QUERY_STRING"] == "x=1" and seen["REQUEST_METHOD"] == "GET" and "HTTP_HOST" in seen


def test_request_names_are_never_taken_for_process_ones() -> None:
    names = process_names(
        ["REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "HTTP_PROXY", "wsgi.input", "RAW_URI"]
    )
    assert names == frozenset()
    assert process_names(["DATABASE_URL", "APP_KEY"]) == {"DATABASE_URL", "APP_KEY"}
