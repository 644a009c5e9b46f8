"""Flask sessions stay Flask's, but no signer is built for a request without a session cookie."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, session

from app.cookie_sessions import LazyCookieSessions


@pytest.fixture
def session_app(app: Flask) -> Flask:
    def write() -> str:
        session["seen"] = "yes"
        return "written"

    def read() -> str:
        return str(session.get("seen", "nothing"))

    app.add_url_rule("/__session/write", "session_write", write)
    app.add_url_rule("/__session/read", "session_read", read)
    return app


def test_no_signer_is_built_without_a_session_cookie(
    session_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(session_app.session_interface, LazyCookieSessions)
    built: list[Any] = []
    original = LazyCookieSessions.get_signing_serializer

    def counting(self: LazyCookieSessions, app: Flask) -> Any:
        built.append(app)
        return original(self, app)

    monkeypatch.setattr(LazyCookieSessions, "get_signing_serializer", counting)
    client = session_app.test_client()
    response = client.get("/__session/read")
    assert response.get_data(as_text=True) == "nothing"
    assert "Set-Cookie" not in response.headers and built == []
    client.set_cookie("unrelated", "1")  # a Cookie header without the session cookie: no signer either
    assert client.get("/__session/read").get_data(as_text=True) == "nothing" and built == []


def test_a_written_session_still_round_trips_with_the_configured_cookie(session_app: Flask) -> None:
    client = session_app.test_client()
    written = client.get("/__session/write")
    cookie = written.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=None" in cookie
    assert client.get("/__session/read").get_data(as_text=True) == "yes"
