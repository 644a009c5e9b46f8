"""Short-lived copies of database rows in this process, for the hot path (docs/architecture.md).

A warm iframe load reads a tenant's settings and its report's version (``computed_at``, expiry) from
here instead of the database. Each copy is kept at most ``APP_HOT_CACHE_SECONDS`` after the read
that made it began, so a write by another process or machine is seen everywhere within that bound;
every writer in this process evicts what it changed at once. Only callers that can live with that
bound opt in (``recent_ok=True``); everything else reads the database.

The copies belong to the database engine, not to a module: two apps in one process (tests) never see
each other's rows, and every session on one engine shares and evicts the same copies. An engine that
was never configured (a script's own) keeps nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Final, TypeVar
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.expiring import ExpiringCache

_SIZE: Final = 10_000
V = TypeVar("V")


class _EngineCopies:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.caches: dict[str, ExpiringCache[Any, Any]] = {}
        self.lock = threading.Lock()

    def named(self, name: str) -> ExpiringCache[Any, Any]:
        cache = self.caches.get(name)
        if cache is None:
            with self.lock:
                cache = self.caches.setdefault(name, ExpiringCache(self.ttl, _SIZE))
        return cache


_by_engine: WeakKeyDictionary[sa.Engine, _EngineCopies] = WeakKeyDictionary()
_unconfigured = _EngineCopies(0.0)


def configure(engine: sa.Engine, ttl: float) -> None:
    """Keep copies of ``engine``'s rows for ``ttl`` seconds (0: none)."""
    _by_engine[engine] = _EngineCopies(ttl)


def copies(session: Session, name: str) -> ExpiringCache[Hashable, Any]:
    """The copies called ``name`` for the engine ``session`` is bound to."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    return _by_engine.get(engine, _unconfigured).named(name)


def read_through(session: Session, name: str, key: Hashable, read: Callable[[], V], *, recent_ok: bool) -> V:
    """``read()``'s value, kept as a copy; with ``recent_ok`` a copy up to ``ttl`` old is returned instead.

    The copy expires ``ttl`` after ``read()`` began (the stated bound). Writers evict with
    ``copies(session, name).discard([key])``.
    """
    kept = copies(session, name)
    if recent_ok:
        found: V | None = kept.get(key)
        if found is not None:
            return found
    began = kept.now()
    value = read()
    kept.put(key, value, since=began)
    return value
