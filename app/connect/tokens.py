"""Signing and verifying Connect JWTs: pure functions, time passed in, no Flask and no database.

Spec: "Understanding JWT for Connect apps"
(https://developer.atlassian.com/cloud/confluence/understanding-jwt/) and signed install
(https://developer.atlassian.com/cloud/confluence/security-for-connect-apps/). Algorithms are pinned per
path (HS256 for tenant tokens, RS256 for install tokens); the token's own ``alg`` header is never trusted.
Expiry and issue time are checked here against the ``now`` the caller passes, so tests use fixed times
instead of sleeping.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final, cast

import jwt
from jwt.types import Options

from app.connect.jws_segments import host_token_parser
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


#: Parses a host token once: header, payload and PyJWT's claim checks (the required claims; ``sub`` and
#: ``jti`` strings when present) in one call. Its signature cannot be checked in that call, since the key
#: is the secret of the tenant the payload names; ``_HS256`` (PyJWT's own HS256) checks it right after.
#: Its base64url segment check runs as one regular expression (``app/connect/jws_segments.py``).
_HOST_PARSER: Final = host_token_parser()
_HOST_PARSE_OPTIONS: Final = cast(
    Options,
    {
        "verify_signature": False,
        "require": _HOST_REQUIRED,
        "verify_sub": True,
        "verify_jti": True,
        "verify_aud": False,
        "verify_iss": False,
        **_NO_TIME_CHECKS,
    },
)
_HS256: Final = jwt.get_algorithm_by_name("HS256")


def _parse_host_token(token: str) -> tuple[dict[str, Any], Claims, bytes]:
    """Return the header, claims and signature of ``token``, parsed once; nothing is trusted yet."""
    _check_size(token)
    try:
        decoded = _HOST_PARSER.decode_complete(token, options=_HOST_PARSE_OPTIONS)
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidTokenError(f"the {exc.claim} claim is missing") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise InvalidTokenError("the token is malformed") from exc
    header: dict[str, Any] = decoded["header"]
    claims: Claims = decoded["payload"]
    signature: bytes = decoded["signature"]
    return header, claims, signature


@functools.lru_cache(maxsize=4096)
def _hs256_key(secret: str) -> bytes:
    """PyJWT's HS256 key for ``secret``, checked once per secret instead of once per token.

    ``prepare_key`` refuses a secret that looks like an asymmetric key (PEM, SSH, DER or a JWK), and
    tries to load it as each to find out: a good part of a token's whole check. Its answer depends on
    the secret alone, so it is kept, for at most as many secrets as there are tenants warm at once.
    A refusal raises and is not kept.
    """
    key: bytes = _HS256.prepare_key(secret)
    return key


def _check_hs256_signature(token: str, signature: bytes, secret: str) -> None:
    """Check the token's HS256 signature with PyJWT's algorithm over the signed part of the token."""
    signing_input = token.encode("utf-8").rsplit(b".", 1)[0]  # header.payload, as PyJWS signs it
    try:
        key = _hs256_key(secret)
        valid = _HS256.verify(signing_input, key, signature)
    except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
        raise InvalidTokenError("the signature does not verify") from exc
    if not valid:
        raise InvalidTokenError("the signature does not verify")


def verify_host_token(
    token: str,
    *,
    secret_for: Callable[[str], str | None],
    expected_qsh: str | Callable[[], str],
    now: int,
    allow_context_qsh: bool = False,
    reread_secret: Callable[[str], str | None] | None = None,
) -> Claims:
    """Verify an HS256 token from a tenant and its qsh; return the claims or raise ConnectAuthError.

    The token is parsed once (PyJWT: header, payload, required claims), its ``alg`` must be HS256, the
    secret is looked up by its ``iss``, and PyJWT's HS256 checks the signature with that secret; then
    the times and the qsh.

    :param secret_for: returns the shared secret of an installed tenant, or ``None`` if there is none.
    :param expected_qsh: the qsh computed from the request as received, or a function computing it
        (called only once the signature has verified, and never for ``allow_context_qsh``).
    :param allow_context_qsh: accept only the literal ``context-qsh`` (routes called from iframe JS).
    :param reread_secret: when ``secret_for`` answered from a cache, reads the secret afresh; called
        at most once, when the signature fails against the cached secret (a reinstall elsewhere may
        have replaced it). ``None`` from it means the tenant is gone.
    """
    header, claims, signature = _parse_host_token(token)
    if header.get("alg") != "HS256":  # pinned: the header's own choice is never trusted
        raise InvalidTokenError("only HS256 tokens are accepted here")
    issuer = claims["iss"]
    if not isinstance(issuer, str) or not issuer:
        raise InvalidTokenError("the token has no issuer")
    secret = secret_for(issuer)
    if secret is None:
        raise UnknownIssuerError(issuer)
    try:
        _check_hs256_signature(token, signature, secret)
    except InvalidTokenError:
        fresh = reread_secret(issuer) if reread_secret is not None else secret
        if fresh is None:
            raise UnknownIssuerError(issuer) from None
        if fresh == secret:
            raise
        _check_hs256_signature(token, signature, fresh)
    _check_times(claims, now)
    if allow_context_qsh:
        _check_qsh(claims, CONTEXT_QSH, allow_context_qsh=True)
    else:
        _check_qsh(claims, expected_qsh if isinstance(expected_qsh, str) else expected_qsh(), False)
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
