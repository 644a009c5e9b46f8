"""The Connect query string hash (qsh): a pure implementation of the canonical request.

Spec: "Understanding JWT for Connect apps", section "Creating a query string hash"
(https://developer.atlassian.com/cloud/confluence/understanding-jwt/), explained in docs/qsh.md.

1. METHOD is upper-cased.
2. The canonical URI is the path as sent on the wire (still percent-encoded), with the context
   path of the receiving side removed, ``/`` when empty, one trailing ``/`` removed, and every
   ``&`` replaced by ``%26``.
3. The canonical query decodes the query the way a form decoder does (``+`` is a space), drops
   ``jwt``, groups repeated names, sorts each name's values by their *decoded* text, percent-encodes
   names and values with RFC 3986's unreserved set kept (upper-case hex), joins repeated values
   with ``,``, and sorts the parameters by encoded name alone.

Where Atlassian's Python ``atlassian-jwt`` differs (it strips every leading/trailing ``/`` and knows
no context path), the published vectors win; see docs/qsh.md.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, unquote, urlsplit

#: The fixed qsh claim of context tokens from ``AP.context.getToken()``.
CONTEXT_QSH: Final = "context-qsh"

#: RFC 3986 unreserved characters besides alphanumerics; everything else is percent-encoded.
_UNRESERVED: Final = "-._~"


@functools.lru_cache(maxsize=4096)
def _encode(text: str) -> str:
    # A pure function of its input, and most names and values (xdm_e, cp, lic, cv, a page id) come
    # again on every request of a site: kept in a small bounded LRU.
    return quote(text, safe=_UNRESERVED)


@functools.lru_cache(maxsize=4096)
def _decode(text: str) -> str:
    # The same for the query's fields: a site's xdm_e and cp come percent-encoded on every load.
    return unquote(text)


def canonical_uri(path: str, base_path: str = "") -> str:
    """Return the canonical URI of a raw (still percent-encoded) request path.

    :param base_path: the context path of the receiving side (``/wiki`` for Confluence, the path of
        the app's ``baseUrl`` for requests to the app); it is not part of the canonical URI.
    """
    prefix = base_path.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :]
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path.replace("&", "%26")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Return the canonical query of *decoded* ``(name, value)`` pairs; ``jwt`` is left out."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        if name != "jwt":
            values = grouped.get(name)
            if values is None:
                grouped[name] = [value]
            else:
                values.append(value)
    encoded = sorted(
        (
            _encode(name),
            _encode(values[0]) if len(values) == 1 else ",".join(_encode(v) for v in sorted(values)),
        )
        for name, values in grouped.items()
    )
    return "&".join([f"{name}={values}" for name, values in encoded])


#: Longer names and values are decoded without being kept: the memo stays small.
_DECODED_LENGTH: Final = 256


def parse_query(query: str) -> list[tuple[str, str]]:
    """Decode a raw query string as a servlet would: ``+`` is a space, a bare name has value ``''``.

    The pairs ``parse_qsl(query, keep_blank_values=True)`` gives (``tests/connect/test_qsh.py`` holds
    it to that on arbitrary text), without a decoding call for the usual field with nothing to
    decode: an iframe URL has about twenty fields, parsed on every load.
    """
    pairs: list[tuple[str, str]] = []
    for field in query.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = _decode(name) if len(name) <= _DECODED_LENGTH else unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = _decode(value) if len(value) <= _DECODED_LENGTH else unquote(value)
        pairs.append((name, value))
    return pairs


def canonical_request(method: str, path: str, query: str = "", base_path: str = "") -> str:
    """Return ``METHOD&canonical-uri&canonical-query`` for a raw path and raw query string."""
    return canonical_request_of_params(method, path, parse_query(query), base_path)


def canonical_request_of_params(
    method: str, path: str, params: Iterable[tuple[str, str]], base_path: str = ""
) -> str:
    """:func:`canonical_request` of a raw path and a query already decoded by :func:`parse_query`."""
    return f"{method.upper()}&{canonical_uri(path, base_path)}&{canonical_query(params)}"


def query_string_hash(method: str, path: str, query: str = "", base_path: str = "") -> str:
    """Return the qsh claim (lower-case hex SHA-256 of the canonical request)."""
    return query_string_hash_of_params(method, path, parse_query(query), base_path)


def query_string_hash_of_params(
    method: str, path: str, params: Iterable[tuple[str, str]], base_path: str = ""
) -> str:
    """Return the qsh of a raw path and a query already decoded by :func:`parse_query`.

    The hash is a pure function of the request without its token, and every viewer of a page loads
    the same iframe URL but for the token (the admin page's is the same for a whole site): recent
    ones are kept in a small bounded memo, unless long.
    """
    fields = tuple([pair for pair in params if pair[0] != "jwt"])
    if len(path) + sum([len(name) + len(value) for name, value in fields]) <= _MEMO_TEXT:
        return _memoised_hash(method, path, fields, base_path)
    return _hash(method, path, fields, base_path)


#: The longest request text (path, names and values) whose qsh is kept: 1,024 of them, 2 MB at most.
_MEMO_TEXT: Final = 2048


def _hash(method: str, path: str, fields: tuple[tuple[str, str], ...], base_path: str) -> str:
    canonical = canonical_request_of_params(method, path, fields, base_path)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_memoised_hash = functools.lru_cache(maxsize=1024)(_hash)


def query_string_hash_for_url(method: str, url: str, base_url: str = "") -> str:
    """Return the qsh of an absolute or site-relative URL, relative to ``base_url``'s path."""
    parts = urlsplit(url)
    return query_string_hash(method, parts.path, parts.query, urlsplit(base_url).path)
