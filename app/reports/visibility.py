"""What one viewer may see of a report: rows checked as that viewer, and editors by name.

A report is scanned once, as the app, and shared by everyone; the app may read pages a viewer may not
(restricted HR pages, say). So before rows reach a viewer, the candidates are confirmed *as the
viewer*: one call lists which of up to 250 ids that person can read (v2 ``GET /pages?id=…`` through the
OAuth JWT-bearer grant). The report's stalest items are checked in that order, 250 at a time, only as
far as the page needs; each answer is kept for ``VIEW_TTL_SECONDS`` per tenant, viewer and report
version. Anything that goes wrong withholds the rows (fails closed).

Editors are account ids; their display names come from v2 ``POST /users-bulk`` (one call for the names
a page shows that are not known yet), kept per tenant for ``NAMES_TTL_SECONDS``. Only names are kept,
and only in memory. An account the site does not know, or a deleted one, is "Former user".

No Flask here: callers pass the functions that ask Confluence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from app.expiring import ExpiringCache
from app.reports.model import FreshnessReport, ReportItem

#: Ids confirmed per call (the v2 limit for ``id=``).
CHUNK: Final = 250
#: How long one viewer's answer about one chunk of a report is reused.
VIEW_TTL_SECONDS: Final = 60.0
#: How long a display name is reused (Atlassian's personal-data guidance: refresh, do not hoard).
NAMES_TTL_SECONDS: Final = 3600.0
FORMER_USER: Final = "Former user"
#: What a report stores as the editor once that account is closed (no account id is kept for it).
ERASED_ACCOUNT: Final = "former-user"

#: Given up to 250 ids, return those the viewer may read (raises on any failure).
ReadableIds = Callable[[list[str]], set[str]]
#: Given up to 250 account ids, return {account id: display name} for those the site knows.
FetchNames = Callable[[list[str]], dict[str, str]]

_ChunkKey = tuple[str, str, str, str, int]
_SliceKey = tuple[str, str, str, datetime, int, int, int | None]


class ViewerCheckFailed(Exception):
    """The viewer's access could not be confirmed; rows must not be shown."""


@dataclass(frozen=True)
class VisibleSlice:
    """Rows a viewer may see, and whether more may follow."""

    items: list[ReportItem]
    more: bool


class Visibility:
    """Per-process caches of viewers' answers and of display names (one instance per app)."""

    def __init__(
        self,
        *,
        view_ttl: float = VIEW_TTL_SECONDS,
        names_ttl: float = NAMES_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: Each answer with the clock reading taken before it was asked for.
        self._chunks: ExpiringCache[_ChunkKey, tuple[frozenset[str], float]] = ExpiringCache(
            view_ttl, 20_000, clock
        )
        #: Slices worked out from those answers (shared: never changed), each kept only as long as
        #: the oldest answer it rests on.
        self._slices: ExpiringCache[_SliceKey, VisibleSlice] = ExpiringCache(view_ttl, 20_000, clock)
        #: Each name with the clock reading taken before it was asked for.
        self._names: ExpiringCache[tuple[str, str], tuple[str, float]] = ExpiringCache(
            names_ttl, 50_000, clock
        )
        #: The names of one page's editors (a warm load asks for the same list again and again), each
        #: entry kept only as long as the oldest name it holds; cleared whenever names are forgotten.
        self._page_names: ExpiringCache[tuple[str, tuple[str | None, ...]], dict[str, str]] = ExpiringCache(
            names_ttl, 5_000, clock
        )

    def visible(
        self,
        client_key: str,
        viewer: str | None,
        report: FreshnessReport,
        readable: ReadableIds,
        *,
        offset: int,
        limit: int,
        max_calls: int | None = None,
    ) -> VisibleSlice:
        """The viewer's rows ``offset`` to ``offset + limit`` of the report's items, in report order.

        Checks chunks of 250 candidates in order, only as many as needed (``max_calls`` bounds the
        calls this may make; a slice cut short says ``more``). Raises :class:`ViewerCheckFailed`.
        """
        if not viewer:
            raise ViewerCheckFailed("no signed-in viewer")
        # A report's content changes only with its version (``computed_at``: webhook updates and
        # erasures make a new one), so a slice worked out from this viewer's answers about this
        # version holds as long as those answers do.
        version = report.computed_at
        slice_key = (client_key, viewer, report.scope.cache_key, version, offset, limit, max_calls)
        found = self._slices.get(slice_key)
        if found is not None:
            return found
        seen: list[ReportItem] = []
        calls = 0
        oldest = math.inf  # the oldest answer this slice rests on
        items = report.items
        result: VisibleSlice | None = None
        for index in range(0, len(items), CHUNK):
            chunk = items[index : index + CHUNK]
            key = (client_key, viewer, report.scope.cache_key, version.isoformat(), index // CHUNK)
            kept = self._chunks.get(key)
            if kept is None:
                if max_calls is not None and calls >= max_calls:
                    result = VisibleSlice(seen[offset : offset + limit], True)
                    break
                asked = self._chunks.now()
                try:
                    allowed = frozenset(readable([item.id for item in chunk]))
                except Exception as exc:  # any failure: the rows stay hidden
                    raise ViewerCheckFailed(type(exc).__name__) from exc
                calls += 1
                self._chunks.put(key, (allowed, asked), since=asked)
            else:
                allowed, asked = kept
            oldest = min(oldest, asked)
            for item in chunk:  # stop at the first row past the page: the rest only says "more"
                if item.id in allowed:
                    seen.append(item)
                    if len(seen) > offset + limit:
                        result = VisibleSlice(seen[offset : offset + limit], True)
                        break
            if result is not None:
                break
        if result is None:
            result = VisibleSlice(seen[offset : offset + limit], False)
        if oldest < math.inf:
            self._slices.put(slice_key, result, since=oldest)
        return result

    def forget_names(self, client_key: str, account_ids: Sequence[str]) -> None:
        """Drop cached names (the personal data API said these accounts were closed or updated)."""
        self._names.discard((client_key, account_id) for account_id in account_ids)
        self._page_names.clear()  # rare (the personal data API's answers): simpler than finding them

    def names(self, client_key: str, account_ids: Sequence[str | None], fetch: FetchNames) -> dict[str, str]:
        """Display names for the given editors: cached, else one bulk call; unknown → "Former user".

        A failed call leaves the names unknown for this page (the caller shows a neutral word) and is
        not cached, so the next page asks again. Returns a new dict the caller may keep or change.
        """
        page_key = (client_key, tuple(account_ids))
        page = self._page_names.get(page_key)
        if page is not None:
            return dict(page)
        wanted = sorted({a for a in account_ids if a})
        found: dict[str, str] = {}
        missing = []
        oldest = math.inf  # when the oldest of the names found was asked for
        for account_id in wanted:
            if account_id == ERASED_ACCOUNT:
                found[account_id] = FORMER_USER
                continue
            kept = self._names.get((client_key, account_id))
            if kept is None:
                missing.append(account_id)
            else:
                found[account_id], asked = kept
                oldest = min(oldest, asked)
        if missing:  # one call: a page shows < 250 editors
            batch = missing[:CHUNK]
            asked = self._names.now()
            answer = fetch(batch)
            for account_id in batch:
                name = answer.get(account_id) or FORMER_USER
                self._names.put((client_key, account_id), (name, asked), since=asked)
                found[account_id] = name
        elif oldest < math.inf:  # all known: the page's names last as long as the oldest of them
            self._page_names.put(page_key, dict(found), since=oldest)
        return found
