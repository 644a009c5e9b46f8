"""PyJWT's parse of a host token, with its base64url segment check run by the regular-expression engine.

PyJWT 2.15 refuses a segment holding anything but the base64url alphabet (its fix for
GHSA-hxm8-2xgr-2p9m) by testing each byte in turn with a Python generator,
``any(character not in _BASE64URL_ALPHABET for character in stripped)``, and each test scans the
64-byte alphabet. On a product token of about 450 characters that check alone is an eighth of the
instructions of a whole warm iframe load (``benchmarks/inprocess.py`` under callgrind: 1.21 million
instructions per macro load with it, 1.06 million with this one).

:class:`SegmentCheckedJWS` is PyJWT's own ``PyJWS`` with that one static method given a body that
answers the same for every input (the same bytes, or ``DecodeError`` with the same message): the
alphabet test is one ``re.fullmatch``, and the rest (padding, decoding, the canonical re-encoding)
is PyJWT's code as it stands. Everything else, the JSON of header and payload, the claim checks and
the signature (``app/connect/tokens.py`` checks it with PyJWT's HS256), stays PyJWT's.

It is used only for versions of PyJWT whose method it was checked against
(:data:`VERIFIED_PYJWT_VERSIONS`; ``tests/connect/test_jws_segments.py`` compares the two on
generated segments and fails when the installed PyJWT is not among them): on any other version the
host parser is PyJWT's, untouched. Drop this module once PyJWT checks the alphabet in C itself.
"""

from __future__ import annotations

import binascii
import re
from typing import Final

import jwt
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

#: PyJWT releases whose ``PyJWS._decode_base64url_segment`` this module's was compared with.
VERIFIED_PYJWT_VERSIONS: Final = frozenset({"2.15.1"})

#: The base64url alphabet (RFC 4648 §5), no padding: the bytes PyJWT's ``_BASE64URL_ALPHABET`` holds.
_ALPHABET_ONLY: Final = re.compile(rb"[A-Za-z0-9_-]*")


def decode_segment(segment: bytes, name: str) -> bytes:
    """PyJWT 2.15.1's ``PyJWS._decode_base64url_segment``, its alphabet test as one ``fullmatch``.

    Same order of checks, same answers: at most two ``=`` of padding, and only on a segment whose
    length is a multiple of four; no length of 1 modulo 4; nothing outside the alphabet; and the
    decoded bytes must re-encode to the segment (no stray bits in the last character).
    """
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4 != 0):
        raise DecodeError(f"Invalid {name} padding")
    if len(stripped) % 4 == 1 or _ALPHABET_ONLY.fullmatch(stripped) is None:
        raise DecodeError(f"Invalid {name} padding")
    try:
        decoded = base64url_decode(stripped)
    except (TypeError, binascii.Error) as err:
        raise DecodeError(f"Invalid {name} padding") from err
    if base64url_encode(decoded) != stripped:
        raise DecodeError(f"Invalid {name} padding")
    return decoded


class SegmentCheckedJWS(PyJWS):
    """PyJWT's ``PyJWS``, each segment checked by :func:`decode_segment`."""

    _decode_base64url_segment = staticmethod(decode_segment)


def fast_segments_apply(version: str = jwt.__version__) -> bool:
    """Whether the installed PyJWT is one :func:`decode_segment` was checked against."""
    return version in VERIFIED_PYJWT_VERSIONS and callable(getattr(PyJWS, "_decode_base64url_segment", None))


def host_token_parser() -> jwt.PyJWT:
    """A ``jwt.PyJWT`` for host tokens: with :class:`SegmentCheckedJWS` on a verified PyJWT, else PyJWT's
    own, unchanged."""
    parser = jwt.PyJWT()
    jws = getattr(parser, "_jws", None)
    if fast_segments_apply() and type(jws) is PyJWS:
        parser._jws = SegmentCheckedJWS(options=jws.options)
    return parser
