"""Pure token functions: time is a parameter, algorithms are pinned."""

from __future__ import annotations

import json

import jwt
import pytest

from app.connect import tokens
from app.errors import InvalidTokenError, QshMismatchError, TokenExpiredError, UnknownIssuerError

SECRET = "a-shared-secret-of-reasonable-length-0123"
NOW = 1_800_000_000


#: The claims of a valid host token for ``verify``.
CLAIMS = {"iss": "site", "iat": NOW, "exp": NOW + 180, "qsh": "abc"}


def token(*, secret: str | None = SECRET, algorithm: str = "HS256", **claims: object) -> str:
    body = CLAIMS | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm=algorithm)


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


def test_a_host_token_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 14: one PyJWT parse per inbound token (it used to be two: unverified for iss, then verified).
    loads: list[object] = []
    real_load = jwt.api_jws.PyJWS._load

    def counting_load(self: jwt.api_jws.PyJWS, token: str | bytes) -> object:
        loads.append(token)
        return real_load(self, token)

    monkeypatch.setattr(jwt.api_jws.PyJWS, "_load", counting_load)
    assert verify(token(sub="user-1"))["sub"] == "user-1"
    assert len(loads) == 1


def test_a_payload_changed_after_signing_is_refused() -> None:
    header, _payload, signature = token(sub="user-1").split(".")
    _h, other_payload, _s = token(sub="admin").split(".")
    with pytest.raises(InvalidTokenError, match="signature"):
        verify(f"{header}.{other_payload}.{signature}")
    with pytest.raises(InvalidTokenError, match="signature"):
        verify(token(sub="user-1")[:-4] + "AAAA")


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(InvalidTokenError, match="signature"):
        verify(token(secret="x" * 40))


@pytest.mark.parametrize("algorithm", ["none", "HS384", "HS512"])
def test_only_hs256_is_accepted(algorithm: str) -> None:
    forged = token(secret=None if algorithm == "none" else SECRET, algorithm=algorithm)
    with pytest.raises(InvalidTokenError, match="HS256"):
        verify(forged)


@pytest.mark.parametrize("missing", ["iss", "iat", "exp", "qsh"])
def test_required_claims_are_checked(missing: str) -> None:
    with pytest.raises(InvalidTokenError, match=f"the {missing} claim is missing"):
        verify(token(**{missing: None}))


@pytest.mark.parametrize("claims", [{"sub": 42}, {"jti": 7}, {"iss": 5}, {"iss": ""}])
def test_claims_of_the_wrong_type_are_refused(claims: dict[str, object]) -> None:
    body = CLAIMS | claims
    signed = jwt.api_jws.encode(json.dumps(body).encode(), SECRET, algorithm="HS256")  # any types
    with pytest.raises(InvalidTokenError):
        verify(signed)


def test_the_qsh_is_computed_only_for_a_token_whose_signature_holds() -> None:
    calls: list[int] = []

    def expected() -> str:
        calls.append(1)
        return "abc"

    def check(tok: str) -> tokens.Claims:
        return tokens.verify_host_token(tok, secret_for={"site": SECRET}.get, expected_qsh=expected, now=NOW)

    with pytest.raises(InvalidTokenError):
        check(token()[:-4] + "AAAA")
    with pytest.raises(UnknownIssuerError):
        check(token(iss="nobody"))
    assert calls == []
    assert check(token())["iss"] == "site"
    assert calls == [1]
    with pytest.raises(QshMismatchError):
        check(token(qsh="other"))
    assert calls == [1, 1]


OLD_SECRET = "the-secret-before-a-reinstall-elsewhere-0123"


def verify_with_reread(tok: str, reread: dict[str, str | None]) -> tuple[tokens.Claims, list[str]]:
    """Verify with ``OLD_SECRET`` as the cached secret and ``reread`` as the store's answer."""
    asked: list[str] = []

    def reread_secret(issuer: str) -> str | None:
        asked.append(issuer)
        return reread.get(issuer)

    claims = tokens.verify_host_token(
        tok,
        secret_for=lambda _issuer: OLD_SECRET,
        expected_qsh="abc",
        now=NOW,
        reread_secret=reread_secret,
    )
    return claims, asked


def test_a_signature_failing_against_a_cached_secret_is_checked_once_against_a_fresh_one() -> None:
    claims, asked = verify_with_reread(token(sub="user-1"), {"site": SECRET})
    assert claims["sub"] == "user-1" and asked == ["site"]


def test_a_fresh_read_is_made_only_when_the_signature_fails() -> None:
    _, asked = verify_with_reread(token(secret=OLD_SECRET), {"site": SECRET})
    assert asked == []


def test_a_token_failing_both_secrets_is_refused() -> None:
    forged = token(secret="x" * 40)
    with pytest.raises(InvalidTokenError, match="signature"):
        verify_with_reread(forged, {"site": SECRET})
    with pytest.raises(InvalidTokenError, match="signature"):  # the fresh read found the same secret
        verify_with_reread(forged, {"site": OLD_SECRET})


def test_a_tenant_gone_on_the_fresh_read_is_an_unknown_issuer() -> None:
    with pytest.raises(UnknownIssuerError):
        verify_with_reread(token(), {})
