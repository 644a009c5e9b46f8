"""The host parser's base64url segment check answers exactly as PyJWT's own (app/connect/jws_segments.py)."""

from __future__ import annotations

import base64
import itertools
import time

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError

from app.connect import jws_segments, tokens
from app.connect.jws_segments import SegmentCheckedJWS, decode_segment, host_token_parser
from app.connect.qsh import CONTEXT_QSH
from app.errors import InvalidTokenError

SECRET = "s" * 40
#: PyJWT's own method, as the installed release has it (the subclass does not change the base class).
PYJWT_DECODE_SEGMENT = PyJWS._decode_base64url_segment


def answer(decode: object, segment: bytes) -> tuple[str, object]:
    """What a segment decoder makes of ``segment``: its bytes, or the DecodeError's message."""
    assert callable(decode)
    try:
        return "bytes", decode(segment, "payload")
    except DecodeError as exc:
        return "refused", str(exc)


def test_the_installed_pyjwt_is_one_the_check_was_compared_with() -> None:
    # Fails after a PyJWT upgrade: run this file against the new release, read its
    # _decode_base64url_segment, and add the version to VERIFIED_PYJWT_VERSIONS if they still agree.
    # Until then the host parser is PyJWT's own (see the next test), so nothing is less safe meanwhile.
    assert jws_segments.fast_segments_apply(), (
        f"PyJWT {jwt.__version__} is not in {sorted(jws_segments.VERIFIED_PYJWT_VERSIONS)}"
    )
    assert type(host_token_parser()._jws) is SegmentCheckedJWS
    assert type(tokens._HOST_PARSER._jws) is SegmentCheckedJWS


def test_another_pyjwt_release_gets_pyjwts_own_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jws_segments, "VERIFIED_PYJWT_VERSIONS", frozenset({"0.0.0"}))
    assert not jws_segments.fast_segments_apply()
    assert type(host_token_parser()._jws) is PyJWS
    assert not jws_segments.fast_segments_apply("2.16.0")


def test_the_subclass_leaves_pyjwts_own_class_alone() -> None:
    assert PyJWS._decode_base64url_segment is not SegmentCheckedJWS._decode_base64url_segment
    assert jwt.api_jws._jws_global_obj._decode_base64url_segment is PYJWT_DECODE_SEGMENT


#: Characters that reach every branch: padding, the two characters of base64 proper (+ /), junk,
#: and last characters whose low bits are or are not zero (A Q g w carry none; B does).
EDGE_CHARACTERS = b"AQgwB_-=+/!. \x00\xff"
BASE64_AND_PADDING = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/"


def test_every_short_segment_gets_pyjwts_answer() -> None:
    checked = 0
    for length in range(5):
        for combination in itertools.product(EDGE_CHARACTERS, repeat=length):
            segment = bytes(combination)
            assert answer(decode_segment, segment) == answer(PYJWT_DECODE_SEGMENT, segment), segment
            checked += 1
    assert checked == sum(len(EDGE_CHARACTERS) ** n for n in range(5))


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.text(alphabet=BASE64_AND_PADDING, max_size=64).map(str.encode),
        st.binary(max_size=48).map(lambda raw: jwt.utils.base64url_encode(raw)),
        st.binary(max_size=48).map(base64.urlsafe_b64encode),
    )
)
def test_generated_segments_get_pyjwts_answer(segment: bytes) -> None:
    assert answer(decode_segment, segment) == answer(PYJWT_DECODE_SEGMENT, segment)


def verify(token: str) -> dict[str, object]:
    return tokens.verify_host_token(
        token,
        secret_for=lambda _iss: SECRET,
        expected_qsh=CONTEXT_QSH,
        now=int(time.time()),
        allow_context_qsh=True,
    )


def host_token() -> str:
    now = int(time.time())
    return jwt.encode({"iss": "tenant", "iat": now, "exp": now + 60, "qsh": "context-qsh"}, SECRET, "HS256")


def test_a_good_token_still_verifies() -> None:
    assert verify(host_token())["iss"] == "tenant"


@pytest.mark.parametrize("part", [0, 1, 2])
@pytest.mark.parametrize("junk", ["!!!!", "A+/A", "AAA=A", "A.", "é"])
def test_a_segment_outside_the_alphabet_is_refused_as_pyjwt_refuses_it(part: int, junk: str) -> None:
    # GHSA-hxm8-2xgr-2p9m: junk in a segment is refused, not decoded past.
    segments = host_token().split(".")
    segments[part] = segments[part] + junk
    with pytest.raises(InvalidTokenError, match="malformed"):
        verify(".".join(segments))
    with pytest.raises(jwt.DecodeError):
        jwt.decode(".".join(segments), SECRET, algorithms=["HS256"])
