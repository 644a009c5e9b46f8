"""A small thread-safe cache whose entries expire: for answers from outside that go stale on their own.

For what another process can change (tenants, reports), key by a version instead (docs/architecture.md,
"In-process caches only when keyed by a version"); this is for answers such as "is this user an
administrator" or "which of these pages may this viewer read", kept for a short, stated time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """At most ``size`` entries, each kept ``ttl`` seconds; the least recently used goes first."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept for ``key``, if it has not expired.

        Reads take no lock: a hit is the warm request's common case, many times a request. Each
        dictionary operation is atomic under the GIL; what a concurrent writer can do in between is
        replace or drop the entry, and then this read returns the value it found (as it would have
        a moment earlier), or moves nothing up the LRU order, which only ever costs a re-read.
        """
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            with self._lock:
                if self._entries.get(key) is entry:  # not replaced since: drop it
                    del self._entries[key]
            return None
        try:  # noqa: SIM105 - contextlib.suppress would cost more than the whole read
            self._entries.move_to_end(key)
        except (KeyError, RuntimeError):  # dropped, or the order changed under a key's __eq__
            pass
        return entry[1]

    def put(self, key: K, value: V, *, since: float | None = None) -> None:
        """Keep ``value`` until ``ttl`` after ``since`` (default: now).

        Pass the clock reading taken *before* the value was read from its source: the entry then
        expires ``ttl`` after the read began, whatever the read cost, which is what a stated bound
        on staleness needs. A cache whose ``ttl`` is 0 or less keeps nothing.
        """
        if self.ttl <= 0:  # it would expire as it is stored: never served, only taking a slot
            return
        with self._lock:
            start = self._clock() if since is None else since
            self._entries[key] = (start + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def now(self) -> float:
        """This cache's clock, for a ``since`` taken before a read."""
        return self._clock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def discard(self, keys: Iterable[K]) -> None:
        """Forget these keys (absent ones are ignored)."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        """Forget every key for which ``predicate`` is true."""
        with self._lock:
            for key in [key for key in self._entries if predicate(key)]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
