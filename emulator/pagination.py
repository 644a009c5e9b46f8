"""Cursor pagination with Confluence v2 semantics ("Pagination" in https://developer.atlassian.com/cloud/confluence/rest/v2/intro/).

A cursor is padded base64 of a small JSON object holding the offset, a digest of the query it belongs to and
an HMAC tag, so a tampered cursor or one replayed with other filters is a 400, as on the real site.
The ``next`` link repeats the original parameters with the cursor first and ``limit`` last, so clients that
assume the cursor is the final parameter break here as they would against Confluence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import quote

from flask import Request, Response, jsonify

from emulator.errors import bad_parameter

DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 250
T = TypeVar("T")


def parse_limit(request: Request, default: int = DEFAULT_LIMIT) -> int:
    """``limit`` as an int in 1..250, or a 400."""
    raw = request.args.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise bad_parameter(f"Provided value for 'limit' is not the correct type: {raw!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_parameter(f"'limit' must be between 1 and {MAX_LIMIT}")
    return limit


def query_digest(request: Request) -> str:
    """A digest of the path and every parameter except ``cursor`` and ``limit`` (limit may change)."""
    pairs = sorted((k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "limit"))
    return hashlib.sha256(json.dumps([request.path, pairs]).encode()).hexdigest()[:16]


def _tag(secret: bytes, position: int, digest: str) -> str:
    return hmac.new(secret, f"{position}:{digest}".encode(), hashlib.sha256).hexdigest()[:16]


def encode_cursor(secret: bytes, position: int, digest: str) -> str:
    """Padded URL-safe base64; JSON whitespace makes it always end in ``=`` like the real one."""
    raw = json.dumps({"pos": position, "q": digest, "sig": _tag(secret, position, digest)}).encode()
    while len(raw) % 3 == 0:
        raw += b" "
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(secret: bytes, cursor: str, digest: str) -> int:
    """The offset a cursor stands for, or a 400 if it is malformed, tampered with or from another query."""
    error = bad_parameter("Provided value for 'cursor' is not the correct type or is invalid")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        position = int(data["pos"])
        ok = hmac.compare_digest(str(data["sig"]), _tag(secret, position, str(data["q"])))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise error from None
    if not ok or data["q"] != digest or position < 0:
        raise error
    return position


def next_link(request: Request, cursor: str, limit: int) -> str:
    """The site-relative next URL (with ``/wiki``): ``cursor`` first, original params, ``limit`` last."""
    others = [
        f"{quote(k, safe='-._~')}={quote(v, safe='-._~,')}"
        for k, v in request.args.items(multi=True)
        if k not in ("cursor", "limit")
    ]
    return f"{request.path}?" + "&".join([f"cursor={cursor}", *others, f"limit={limit}"])


def paginate(
    request: Request,
    items: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    *,
    base_url: str,
    secret: bytes,
    limit: int | None = None,
    with_cursor: bool = True,
) -> Response:
    """Render one page of ``items`` as ``{"results", "_links"}`` plus the matching ``Link`` header."""
    limit = parse_limit(request) if limit is None else limit
    digest = query_digest(request)
    cursor = request.args.get("cursor") if with_cursor else None
    start = decode_cursor(secret, cursor, digest) if cursor is not None else 0
    window = items[start : start + limit]
    links: dict[str, str] = {}
    link_header = []
    if with_cursor and start + limit < len(items):
        nxt = next_link(request, encode_cursor(secret, start + limit, digest), limit)
        links["next"] = nxt
        link_header.append(f'<{nxt}>; rel="next"')
    links["base"] = base_url
    link_header.append(f'<{base_url}>; rel="base"')
    response = jsonify({"results": [render(item) for item in window], "_links": links})
    response.headers["Link"] = ", ".join(link_header)
    return response
