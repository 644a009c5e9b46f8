"""OAuth 2.0 JWT-bearer grant and its token store.

Connect "user impersonation": https://developer.atlassian.com/cloud/confluence/user-impersonation-for-connect-apps/
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

import jwt
from flask import Blueprint, Response, jsonify, request

from emulator.state import current

bp = Blueprint("oauth", __name__)

GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ISS_PREFIX: Final = "urn:atlassian:connect:clientid:"
SUB_PREFIX: Final = "urn:atlassian:connect:useraccountid:"
ATLASSIAN_AUDIENCE: Final = "https://oauth-2-authorization-server.services.atlassian.com"
TOKEN_LIFETIME: Final = 900
MAX_ASSERTION_LIFETIME: Final = 120  # longer-lived assertions are refused (reported of Atlassian's server)


@dataclass(frozen=True)
class Grant:
    """What an access token stands for."""

    app_key: str
    account_id: str
    scopes: frozenset[str]
    expires_at: float


class TokenStore:
    """Issued bearer tokens in memory; expired ones are dropped when looked up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}

    def issue(self, grant: Grant) -> str:
        """Mint an opaque token for ``grant``."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = grant
        return token

    def clear(self) -> None:
        """Revoke every token (the site's installations ended)."""
        with self._lock:
            self._grants.clear()

    def lookup(self, token: str, now: float) -> Grant | None:
        """The live grant behind ``token``, or None."""
        with self._lock:
            grant = self._grants.get(token)
            if grant is not None and grant.expires_at <= now:
                del self._grants[token]
                return None
            return grant


class GrantError(Exception):
    """An OAuth error response (RFC 6749 section 5.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _oauth_error(exc: GrantError) -> tuple[Response, int]:
    return jsonify({"error": exc.error, "error_description": exc.description}), 400


def verify_assertion(assertion: str, requested_scope: str, now: float) -> Grant:
    """Check the assertion and requested scopes; return the grant to issue or raise :class:`GrantError`."""
    state = current()
    try:
        unverified: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise GrantError("invalid_grant", f"assertion is not a JWT: {exc}") from exc
    iss = str(unverified.get("iss", ""))
    if not iss.startswith(ISS_PREFIX):
        raise GrantError("invalid_grant", f"iss must start with {ISS_PREFIX}")
    app = state.apps.by_oauth_client_id(iss.removeprefix(ISS_PREFIX))
    if app is None:
        raise GrantError("invalid_client", "no installed app has this oauthClientId")
    try:
        claims = jwt.decode(
            assertion,
            app.shared_secret,
            algorithms=["HS256"],
            leeway=5,
            audience=[state.origin, ATLASSIAN_AUDIENCE],
            options={"require": ["iss", "sub", "aud", "iat", "exp", "tnt"]},
        )
    except jwt.InvalidTokenError as exc:
        raise GrantError("invalid_grant", f"assertion rejected: {exc}") from exc
    if float(claims["exp"]) - float(claims["iat"]) > MAX_ASSERTION_LIFETIME:
        raise GrantError("invalid_grant", f"assertion lifetime exceeds {MAX_ASSERTION_LIFETIME} s")
    if str(claims["tnt"]).rstrip("/") != state.site.base_url:
        raise GrantError("invalid_grant", f"tnt must be the site baseUrl {state.site.base_url}")
    sub = str(claims["sub"])
    user = state.site.user(sub.removeprefix(SUB_PREFIX)) if sub.startswith(SUB_PREFIX) else None
    if user is None or not user.active:
        raise GrantError("invalid_grant", f"sub must be {SUB_PREFIX}<accountId> of an active site user")
    if "ACT_AS_USER" not in app.scopes:
        raise GrantError("unauthorized_client", "the app does not declare the ACT_AS_USER scope")
    scopes = frozenset(s for s in requested_scope.split() if s) or frozenset(app.scopes)
    if not scopes <= app.scopes:
        raise GrantError("invalid_scope", "requested scopes must be a subset of the descriptor's scopes")
    return Grant(app.key, sub.removeprefix(SUB_PREFIX), scopes, now + TOKEN_LIFETIME)


@bp.post("/oauth2/token")
def token() -> tuple[Response, int]:
    """Exchange a JWT-bearer assertion for a 15-minute access token acting as the ``sub`` user."""
    if request.form.get("grant_type") != GRANT_TYPE:
        return _oauth_error(GrantError("unsupported_grant_type", f"grant_type must be {GRANT_TYPE}"))
    assertion = request.form.get("assertion", "")
    if not assertion:
        return _oauth_error(GrantError("invalid_request", "assertion is required"))
    now = time.time()
    try:
        grant = verify_assertion(assertion, request.form.get("scope", ""), now)
    except GrantError as exc:
        return _oauth_error(exc)
    access_token = current().tokens.issue(grant)
    return jsonify(
        {
            "access_token": access_token,
            "expires_in": TOKEN_LIFETIME,
            "token_type": "Bearer",
            "scope": " ".join(sorted(grant.scopes)),
        }
    ), 200
