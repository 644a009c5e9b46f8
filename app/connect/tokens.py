"""Signing and verifying Connect JWTs: pure functions, time passed in, no Flask and no database.

Spec: "Understanding JWT for Connect apps"
(https://developer.atlassian.com/cloud/confluence/understanding-jwt/) and signed install
(https://developer.atlassian.com/cloud/confluence/security-for-connect-apps/). Algorithms are pinned per
path (HS256 for tenant tokens, RS256 for install tokens); the token's own ``alg`` header is never trusted.
Expiry and issue time are checked here against the ``now`` the caller passes, so tests use fixed times
instead of sleeping.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final, cast

import jwt
from jwt.types import Options

from app.connect.qsh import CONTEXT_QSH
from app.errors import InvalidTokenError, QshMismatchError, TokenExpiredError, UnknownIssuerError

Claims = dict[str, Any]

#: Allowed clock skew, in seconds, between Atlassian's clock and ours.
LEEWAY_SECONDS: Final = 60
#: Lifetime of the tokens we sign for outbound calls (ACE uses the same three minutes).
APP_TOKEN_LIFETIME_SECONDS: Final = 180
#: Product tokens are a few hundred bytes; anything far larger is refused before parsing.
MAX_TOKEN_LENGTH: Final = 8192

_HOST_REQUIRED: Final = ["iss", "iat", "exp", "qsh"]
_INSTALL_REQUIRED: Final = ["iss", "iat", "exp", "qsh", "aud"]
_NO_TIME_CHECKS: Final = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


def sign_hs256(claims: Mapping[str, Any], secret: str) -> str:
    """Return an HS256 JWT of ``claims`` signed with ``secret`` (used as UTF-8 bytes)."""
    return jwt.encode(dict(claims), secret, algorithm="HS256")


def sign_app_token(
    *,
    app_key: str,
    secret: str,
    qsh: str,
    now: int,
    lifetime: int = APP_TOKEN_LIFETIME_SECONDS,
    audience: str | None = None,
) -> str:
    """Return the JWT an app sends with one request to a tenant (``iss`` = app key)."""
    claims: Claims = {"iss": app_key, "iat": now, "exp": now + lifetime, "qsh": qsh}
    if audience is not None:
        claims["aud"] = [audience]
    return sign_hs256(claims, secret)


def _check_size(token: str) -> None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError("the token is empty or too large")


def unverified_header(token: str) -> dict[str, Any]:
    """Return the token's header without verifying anything; raise InvalidTokenError if malformed."""
    _check_size(token)
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise InvalidTokenError("the token is malformed") from exc


def unverified_issuer(token: str) -> str:
    """Return the ``iss`` claim without verifying the signature (to find the tenant's secret)."""
    unverified_header(token)
    try:
        claims = jwt.decode(token, options=cast(Options, {"verify_signature": False, **_NO_TIME_CHECKS}))
    except jwt.InvalidTokenError as exc:
        raise InvalidTokenError("the token is malformed") from exc
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidTokenError("the token has no issuer")
    return issuer


def _check_times(claims: Claims, now: int) -> None:
    """Check ``exp``, ``iat`` and ``nbf`` against ``now`` with the leeway."""
    for name in ("exp", "iat", "nbf"):
        if name in claims and (not isinstance(claims[name], int | float) or isinstance(claims[name], bool)):
            raise InvalidTokenError(f"the {name} claim is not a number")
    if claims["exp"] < now - LEEWAY_SECONDS:
        raise TokenExpiredError()
    if claims.get("iat", now) > now + LEEWAY_SECONDS:
        raise InvalidTokenError("the token was issued in the future")
    if claims.get("nbf", now) > now + LEEWAY_SECONDS:
        raise InvalidTokenError("the token is not valid yet")


def _check_qsh(claims: Claims, expected_qsh: str, allow_context_qsh: bool) -> None:
    actual = claims.get("qsh")
    if not isinstance(actual, str):
        raise InvalidTokenError("the qsh claim is missing")
    if allow_context_qsh:
        # Routes that opt in accept only the literal context qsh, never a computed one: a context
        # token is URL-independent, and a computed one belongs on descriptor routes.
        if not hmac.compare_digest(actual, CONTEXT_QSH):
            raise QshMismatchError()
        return
    if not hmac.compare_digest(actual, expected_qsh):
        raise QshMismatchError()


def _decode(token: str, key: Any, algorithm: str, required: list[str]) -> Claims:
    try:
        claims: Claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options=cast(Options, {"require": required, "verify_aud": False, **_NO_TIME_CHECKS}),
        )
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidTokenError(f"only {algorithm} tokens are accepted here") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidTokenError("the signature does not verify") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidTokenError(f"the {exc.claim} claim is missing") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise InvalidTokenError("the token is malformed") from exc
    return claims


def verify_host_token(
    token: str,
    *,
    secret_for: Callable[[str], str | None],
    expected_qsh: str,
    now: int,
    allow_context_qsh: bool = False,
) -> Claims:
    """Verify an HS256 token from a tenant and its qsh; return the claims or raise ConnectAuthError.

    :param secret_for: returns the shared secret of an installed tenant, or ``None`` if there is none.
    :param expected_qsh: the qsh computed from the request as received.
    :param allow_context_qsh: accept only the literal ``context-qsh`` (routes called from iframe JS).
    """
    issuer = unverified_issuer(token)
    secret = secret_for(issuer)
    if secret is None:
        raise UnknownIssuerError(issuer)
    claims = _decode(token, secret, "HS256", _HOST_REQUIRED)
    _check_times(claims, now)
    _check_qsh(claims, expected_qsh, allow_context_qsh)
    return claims


def _audience_matches(aud: Any, expected: str) -> bool:
    wanted = expected.rstrip("/")
    values = aud if isinstance(aud, list) else [aud]
    return any(isinstance(value, str) and value.rstrip("/") == wanted for value in values)


def install_key_id(token: str) -> str:
    """Return the ``kid`` of a signed-install token, refusing anything that is not RS256."""
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise InvalidTokenError("install callbacks must be signed with RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError("the token has no key id")
    return kid


def verify_install_token(
    token: str,
    *,
    public_key_for: Callable[[str], Any],
    audience: str,
    expected_qsh: str,
    now: int,
) -> Claims:
    """Verify Atlassian's RS256 signed-install token; return its claims or raise ConnectAuthError.

    :param public_key_for: returns the PEM public key for a ``kid`` or raises InstallKeyError.
    :param audience: the app's own base URL; the token's ``aud`` must name it.
    """
    kid = install_key_id(token)
    claims = _decode(token, public_key_for(kid), "RS256", _INSTALL_REQUIRED)
    _check_times(claims, now)
    if not _audience_matches(claims["aud"], audience):
        raise InvalidTokenError("the token was issued for another app (aud)")
    if not isinstance(claims["iss"], str) or not claims["iss"]:
        raise InvalidTokenError("the token has no issuer")
    _check_qsh(claims, expected_qsh, allow_context_qsh=False)
    return claims
