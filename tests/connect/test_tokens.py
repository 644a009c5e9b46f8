"""Pure token functions: time is a parameter, algorithms are pinned."""

from __future__ import annotations

import jwt
import pytest

from app.connect import tokens
from app.errors import InvalidTokenError, QshMismatchError, TokenExpiredError, UnknownIssuerError

SECRET = "a-shared-secret-of-reasonable-length-0123"
NOW = 1_800_000_000


def token(**claims: object) -> str:
    body = {"iss": "site", "iat": NOW, "exp": NOW + 180, "qsh": "abc"} | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, algorithm="HS256")


def verify(tok: str, *, now: int = NOW, allow_context_qsh: bool = False) -> tokens.Claims:
    return tokens.verify_host_token(
        tok, secret_for={"site": SECRET}.get, expected_qsh="abc", now=now, allow_context_qsh=allow_context_qsh
    )


def test_valid_token_returns_its_claims() -> None:
    assert verify(token(sub="user-1"))["sub"] == "user-1"


def test_leeway_applies_to_expiry_and_issue_time() -> None:
    assert verify(token(), now=NOW + 180 + tokens.LEEWAY_SECONDS)["iss"] == "site"
    with pytest.raises(TokenExpiredError):
        verify(token(), now=NOW + 181 + tokens.LEEWAY_SECONDS)
    assert verify(token(iat=NOW + tokens.LEEWAY_SECONDS))["iss"] == "site"
    with pytest.raises(InvalidTokenError, match="future"):
        verify(token(iat=NOW + tokens.LEEWAY_SECONDS + 1))


def test_unknown_issuer_names_the_issuer() -> None:
    with pytest.raises(UnknownIssuerError) as info:
        verify(token(iss="nobody"))
    assert info.value.client_key == "nobody"


def test_context_routes_accept_only_the_literal() -> None:
    assert verify(token(qsh="context-qsh"), allow_context_qsh=True)["qsh"] == "context-qsh"
    with pytest.raises(QshMismatchError):
        verify(token(qsh="abc"), allow_context_qsh=True)
    with pytest.raises(QshMismatchError):
        verify(token(qsh="context-qsh"))


def test_bool_times_are_not_numbers() -> None:
    with pytest.raises(InvalidTokenError, match="exp"):
        verify(token(exp=True))


def test_signed_app_token_round_trips() -> None:
    tok = tokens.sign_app_token(app_key="app", secret=SECRET, qsh="q", now=NOW, audience="client")
    claims = jwt.decode(
        tok,
        SECRET,
        algorithms=["HS256"],
        audience="client",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {"iss": "app", "iat": NOW, "exp": NOW + 180, "qsh": "q", "aud": ["client"]}


def test_error_messages_never_contain_the_token() -> None:
    bad = token(qsh="other")
    with pytest.raises(QshMismatchError) as info:
        verify(bad)
    assert bad not in str(info.value) and SECRET not in str(info.value)


def test_install_token_must_be_rs256_with_a_kid() -> None:
    with pytest.raises(InvalidTokenError, match="RS256"):
        tokens.install_key_id(token())
    rsa_less = jwt.encode({"a": 1}, SECRET, algorithm="HS256", headers={"kid": "k"})
    with pytest.raises(InvalidTokenError, match="RS256"):
        tokens.install_key_id(rsa_less)
