"""What a Connect check needs from the incoming Flask request: the token and the raw URL parts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Request

from app.errors import InvalidPayloadError, InvalidTokenError, MissingTokenError

_AUTH_SCHEME = "JWT "


def token_from(request: Request) -> str:
    """Return the JWT from ``?jwt=`` or ``Authorization: JWT …``; refuse none or two different ones."""
    return token_of(request.args.getlist("jwt"), request.headers.get("Authorization", ""))


def token_of(from_query: Sequence[str], authorization: str) -> str:
    """The JWT of a request whose query gave ``from_query`` (its ``jwt`` values) and whose
    ``Authorization`` header is ``authorization``; refuse none, or two different ones."""
    from_header = (
        authorization[len(_AUTH_SCHEME) :].strip() if authorization.startswith(_AUTH_SCHEME) else None
    )
    if len(from_query) > 1:
        raise InvalidTokenError("more than one token in the query")
    if from_query and from_header is not None and from_query[0] != from_header:
        raise InvalidTokenError("different tokens in the query and the header")
    token = from_query[0] if from_query else from_header
    if not token:
        raise MissingTokenError()
    return token


def raw_path(request: Request) -> str:
    """Return the request path as it was sent on the wire, still percent-encoded (:func:`raw_path_of`)."""
    return raw_path_of(request.environ)


def raw_path_of(environ: Mapping[str, Any]) -> str:
    """Return the path of the request ``environ`` describes as it was sent on the wire, still
    percent-encoded.

    Werkzeug's ``request.path`` is decoded, which would change the qsh of paths holding ``%xx`` (the
    canonical URI is the path as sent: docs/qsh.md). Servers that keep the raw URI (Werkzeug, gunicorn)
    say so in ``RAW_URI``/``REQUEST_URI``; otherwise (granian) the decoded path is re-encoded.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        path = urlsplit(raw).path if "://" in raw else raw.split("?", 1)[0]
        if path.startswith("/"):
            return path
    # Servers that keep no raw URI (granian): rebuild it from the decoded path. PEP 3333 gives
    # PATH_INFO as the received bytes, one character per byte (latin-1), so a UTF-8 path is encoded
    # byte for byte. Exact for a path encoded canonically (only what must be encoded); an encoded "/"
    # or an over-encoded character such as "%7E" cannot be told apart once decoded (docs/qsh.md).
    full = (environ.get("SCRIPT_NAME", "") or "") + (environ.get("PATH_INFO", "") or "")
    try:
        wire = full.encode("latin-1")
    except UnicodeEncodeError:  # a server that decoded the path as text: its characters, as UTF-8
        wire = full.encode("utf-8")
    return quote(wire, safe="/!$&'()*+,;=:@-._~")


def raw_query(request: Request) -> str:
    """Return the raw query string (bytes on the wire decoded as UTF-8)."""
    return request.query_string.decode("utf-8", errors="replace")


def raw_query_of(environ: Mapping[str, Any]) -> str:
    """:func:`raw_query` of a WSGI environ (``QUERY_STRING`` holds the bytes as latin-1, PEP 3333, as
    Werkzeug reads it; raises UnicodeEncodeError where Werkzeug would)."""
    return str(environ.get("QUERY_STRING", "")).encode("latin-1").decode("utf-8", errors="replace")


def json_body(request: Request, *, max_bytes: int, what: str) -> Any:
    """The request's JSON body, or InvalidPayloadError (400) naming ``what``.

    Too large, not UTF-8, not JSON, or nested too deep for the parser (Python's ``json`` raises
    RecursionError on a body such as 20,000 nested lists): every one is the client's fault, so a 400.
    """
    if (request.content_length or 0) > max_bytes:
        raise InvalidPayloadError(f"{what} is too large.")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise InvalidPayloadError(f"{what} is too large.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidPayloadError(f"{what} is not valid JSON.") from None
