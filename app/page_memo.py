"""A bounded, thread-safe LRU of rendered pages, for pages that are pure functions of their key.

Used for the macro's report pages (``app/views/render_memo.py``, which adds per-request placeholders)
and the framework's error pages (``app/error_pages.py``). A page that is a pure function of its key
never goes stale, so nothing here expires or needs invalidating.

Pages are kept as the UTF-8 bytes a response carries, encoded once when rendered: every page holds
text that is not ASCII (a "·" in the templates, page titles, people's names), which Python encodes
character by character, and a warm load would otherwise encode the whole page again each time (about
a tenth of a warm macro load's instructions).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable
from typing import Final

from app.expiring import ExpiringCache

#: Pages kept per process (a page is about 8 KB: about 4 MB at most).
DEFAULT_MAX_ENTRIES: Final = 512


class RenderMemo:
    """A thread-safe LRU of rendered pages: at most ``max_entries``, least recently used dropped first."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._pages: ExpiringCache[Hashable, bytes] = ExpiringCache(math.inf, max_entries)  # never expire
        self._hits_lock = threading.Lock()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable) -> bytes | None:
        """The kept page for ``key`` (UTF-8), or None."""
        page = self._pages.get(key)
        if page is not None:
            with self._hits_lock:
                self.hits += 1
        return page

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> bytes:
        """The page for ``key`` (UTF-8): the kept one, or ``render()``'s, kept (rendered outside any
        lock)."""
        page = self.get(key)
        if page is not None:
            return page
        encoded = render().encode()
        self._pages.put(key, encoded)
        return encoded

    def clear(self) -> None:
        self._pages.clear()
