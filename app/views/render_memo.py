"""A bounded LRU of rendered macro pages, keyed by everything a page is made of.

A warm macro page is a pure function of: the tenant (its key and the URLs its links use), the scope,
the report's version (``computed_at``, and the figures the page prints), the tenant's settings, the
rows this viewer may see (their titles, links, ages, editors' names), "show more", a withheld-rows
message and the refresh line. All of these are the memo's key, so a memoised page is never stale and
nothing needs invalidating: a settings save, a refreshed report, another viewer whose visible rows
differ, or a new day that changes an age, each make another key.

What changes on every request is not in the page the memo keeps: it is rendered with per-process
placeholders (:data:`SCOPE_TOKEN`, :data:`COMPUTED_AGO`) that :func:`fill` replaces, escaped, with this
request's signed scope token and "computed … ago". The placeholders are random per process, so no
report content (a page title) can contain one. The memo keeps pages as UTF-8 (``app/page_memo.py``),
so they are cut and filled as bytes: only the two values are encoded per request.
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import Final

from markupsafe import escape

#: Stands in for the signed scope token in a memoised page.
SCOPE_TOKEN: Final = f"scope-token-{secrets.token_hex(16)}"
#: Stands in for "computed 3 min ago" in a memoised page.
COMPUTED_AGO: Final = f"computed-ago-{secrets.token_hex(16)}"
_SCOPE_TOKEN_BYTES: Final = SCOPE_TOKEN.encode()
_COMPUTED_AGO_BYTES: Final = COMPUTED_AGO.encode()


def fill(page: bytes, *, scope_token: str, computed_ago: str) -> bytes:
    """Put this request's values into a memoised page (UTF-8), HTML-escaped."""
    parts = _parts(page)
    values = {
        _SCOPE_TOKEN_BYTES: str(escape(scope_token)).encode(),
        _COMPUTED_AGO_BYTES: str(escape(computed_ago)).encode(),
    }
    return b"".join([values.get(part, part) for part in parts])


@functools.lru_cache(maxsize=512)
def _parts(page: bytes) -> tuple[bytes, ...]:
    """``page`` cut at the placeholders, which stay as parts of their own: the same memoised page
    (the same bytes object, whose hash Python keeps) is cut once, not scanned on every request."""
    return tuple(part for part in _PLACEHOLDERS.split(page) if part)


_PLACEHOLDERS: Final = re.compile(
    b"(%s|%s)" % (re.escape(_SCOPE_TOKEN_BYTES), re.escape(_COMPUTED_AGO_BYTES))
)
