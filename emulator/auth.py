"""Authentication of REST calls the way Confluence does it: an app's HS256 JWT with a qsh, or an OAuth bearer.

The qsh is checked with Atlassian's own ``atlassian_jwt.url_utils.hash_url`` over the raw request URI
relative to ``/wiki``, so an app's qsh code is judged by an implementation independent of it.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import jwt
from atlassian_jwt.url_utils import hash_url
from flask import Request

from emulator.errors import unauthorized
from emulator.state import EmulatorState

CONTEXT_PATH: Final = "/wiki"
LEEWAY_SECONDS: Final = 5


@dataclass(frozen=True)
class Caller:
    """Who made a REST call: an app, acting as itself (``account_id`` None) or as a user (bearer token)."""

    app_key: str
    account_id: str | None = None


def raw_request_uri(request: Request) -> str:
    """The path and query as sent on the wire (still percent-encoded), which the qsh must be computed from."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = request.query_string.decode("latin-1")
    path = quote(request.path, safe="/:@!$&'()*+,;=-._~")
    return f"{path}?{query}" if query else path


def relative_to_context(uri: str) -> str:
    """Strip ``/wiki`` from a site-relative URI: the qsh of a call to Confluence excludes the context path."""
    if uri == CONTEXT_PATH or uri.startswith((CONTEXT_PATH + "/", CONTEXT_PATH + "?")):
        return uri[len(CONTEXT_PATH) :] or "/"
    return uri


def authenticate(state: EmulatorState, request: Request, now: float | None = None) -> Caller:
    """Return the caller of ``request`` or raise a 401 :class:`~emulator.errors.ApiError`."""
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme == "JWT" and credential:
        return _verify_app_jwt(state, request, credential)
    if scheme.lower() == "bearer" and credential:
        grant = state.tokens.lookup(credential, now if now is not None else time.time())
        if grant is None:
            raise unauthorized("The bearer token is unknown or has expired")
        if state.apps.get(grant.app_key) is None:
            raise unauthorized("The app that obtained this bearer token is no longer installed")
        user = state.site.user(grant.account_id)
        if user is not None and not user.active:
            raise unauthorized("The account this bearer token acts as has been closed")
        return Caller(grant.app_key, grant.account_id)
    raise unauthorized("Missing 'Authorization: JWT <token>' or 'Authorization: Bearer <token>' header")


def _verify_app_jwt(state: EmulatorState, request: Request, token: str) -> Caller:
    """HS256 with the shared secret of the installed, enabled app named by ``iss``; ``exp`` and ``qsh``."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError as exc:
        raise unauthorized(f"Malformed JWT: {exc}") from exc
    app = state.apps.get(issuer) if isinstance(issuer, str) else None
    if app is None:
        raise unauthorized(f"No installed app with key {issuer!r} (iss must be the app key)")
    if not app.enabled:
        raise unauthorized(f"The app {issuer!r} is disabled")
    try:
        claims = jwt.decode(
            token,
            app.shared_secret,
            algorithms=["HS256"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "iat", "exp", "qsh"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise unauthorized("JWT has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise unauthorized(f"Invalid JWT: {exc}") from exc
    canonical_uri = relative_to_context(raw_request_uri(request))
    expected = hash_url(request.method, canonical_uri)
    if not hmac.compare_digest(str(claims["qsh"]), expected):
        raise unauthorized(f"JWT qsh does not match {request.method} {canonical_uri}")
    return Caller(app.key)
