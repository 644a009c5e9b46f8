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
report content (a page title) can contain one.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Final

from markupsafe import escape

#: Stands in for the signed scope token in a memoised page.
SCOPE_TOKEN: Final = f"scope-token-{secrets.token_hex(16)}"
#: Stands in for "computed 3 min ago" in a memoised page.
COMPUTED_AGO: Final = f"computed-ago-{secrets.token_hex(16)}"

#: Pages kept per process (a page is about 8 KB: about 4 MB at most).
DEFAULT_MAX_ENTRIES: Final = 512


class RenderMemo:
    """A thread-safe LRU of rendered pages: at most ``max_entries``, least recently used dropped first."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._pages)

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> str:
        """The page for ``key``: the kept one, or ``render()``'s, kept (rendered outside the lock)."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                self.hits += 1
                return page
            self.misses += 1
        page = render()
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)
        return page

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def fill(page: str, *, scope_token: str, computed_ago: str) -> str:
    """Put this request's values into a memoised page, HTML-escaped."""
    return page.replace(SCOPE_TOKEN, str(escape(scope_token))).replace(
        COMPUTED_AGO, str(escape(computed_ago))
    )
