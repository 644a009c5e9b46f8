"""Scope tokens: what a rendered macro may ask "Show more" for.

A context JWT is URL-independent, so the JSON endpoint cannot trust scope parameters sent by the
browser. The macro page instead embeds the scope it rendered, signed with the tenant's shared
secret (shared by every app process through the database); the endpoint accepts only that.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any, Final

import jwt

from app.connect import tokens
from app.errors import ForbiddenError
from app.reports.model import CONTENT_TYPES, ReportScope

LIFETIME_SECONDS: Final = 3600
_TYPE: Final = "freshness-scope"


def sign_scope(scope: ReportScope, *, client_key: str, secret: str, now: int) -> str:
    """Return a token binding ``scope`` to this tenant for an hour.

    The token is a pure function of its arguments (``now`` in whole seconds), so one second's loads
    of a scope share one signature: kept only for that second (no secret outlives it here).
    """
    key = (scope, client_key, secret)
    with _this_second.lock:
        if _this_second.second != now:
            _this_second.second, _this_second.tokens = now, {}
        token = _this_second.tokens.get(key)
    if token is not None:
        return token
    claims = {
        "typ": _TYPE,
        "sub": client_key,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
        "scope": asdict(scope),
    }
    token = tokens.sign_hs256(claims, secret)
    with _this_second.lock:
        if _this_second.second == now and len(_this_second.tokens) < _MAX_PER_SECOND:
            _this_second.tokens[key] = token
    return token


class _ThisSecond:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.second = -1
        self.tokens: dict[tuple[ReportScope, str, str], str] = {}


_this_second = _ThisSecond()
_MAX_PER_SECOND: Final = 1024


def verify_scope(token: str, *, client_key: str, secret: str, now: int) -> ReportScope:
    """Return the scope a token names, or raise ForbiddenError (403)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
        )
    except (jwt.InvalidTokenError, ValueError):
        raise ForbiddenError("This report link is not valid. Reload the page.") from None
    if claims.get("typ") != _TYPE or claims.get("sub") != client_key:
        raise ForbiddenError("This report link is not valid. Reload the page.")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp < now:
        raise ForbiddenError("This report has expired. Reload the page.")
    raw = claims.get("scope")
    try:
        scope = ReportScope(**raw) if isinstance(raw, dict) else None
    except TypeError:
        scope = None
    if scope is None or scope.content_type not in CONTENT_TYPES:
        raise ForbiddenError("This report link is not valid. Reload the page.")
    return scope
