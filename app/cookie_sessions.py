"""Flask's signed-cookie sessions, built only for requests that carry a session cookie.

The app sets no cookie (Connect requests carry their context in tokens), yet Flask's default
interface builds an itsdangerous signer on every request to look for one: a few per cent of a warm
iframe load. This interface answers a request without the cookie with a new, empty session and
otherwise behaves exactly like Flask's (should a session ever be written, the cookie settings in
``app/config.py`` apply as before).
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class LazyCookieSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies
        ):
            return self.session_class()  # no Cookie header at all (every Connect request): no parse
        return super().open_session(app, request)
