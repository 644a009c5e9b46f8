"""Cached reports follow content changes from webhooks, incrementally: no rescan.

A webhook (``app/connect/webhooks.py`` verifies it) is read here into a :class:`ContentChange` while
Confluence waits (a payload we cannot read is a 400 and changes nothing), and handed to the job queue.
The job applies it to every cached report of the tenant it can concern, in one transaction per report:

* an updated page takes its new version's time at once (so a stale page leaves the stale list);
* a trashed, archived or removed page leaves the counts and the list; a created, restored or
  unarchived page is counted (and listed if it belongs among the stalest); a moved page enters or
  leaves root-page scopes, and leaves the reports of a space it moved out of.

**Order and duplicates.** ``content_state`` keeps, per tenant and content id, the latest change applied
(its version, then the change's timestamp, decide what is newer). An older or equal change is dropped,
so a duplicate or a late delivery changes nothing. The same rows are re-applied to a freshly scanned
report whose scan started before them (:func:`reconcile`), so a scan never undoes a newer webhook.

**What a report cannot know.** A report keeps only the ``MAX_ITEMS`` stalest items. When it lists
every item of its scope ("complete"), every change is exact. When it is truncated, a page it does not
list is known only to be fresher than the last listed one: an update of such a page is exact when the
last listed item is itself fresh (then the page was fresh), else its previous version's time is asked
of Confluence (one call); a page leaving the list opens a slot that only a rescan can fill (the list is
then shorter than ``MAX_ITEMS``, still the right stalest ones, in order); a page may enter the list only
if it is staler than the last listed one. For an unlisted page with no earlier change on record, its
state before the change is inferred from the event (an update or trash means it was current,
a create or restore that it was not); deliveries of one page reordered within a burst can make that
off by one until the next scan. Whatever cannot be decided (a move of a page with children, a root
scope when Confluence cannot say where the page sits) leaves the report as it is, expires it and asks
for a rescan at once (one scan job per scope, as for a view); the rescan keeps the newer webhook
changes. Every rescan compares its result with the report it replaces
(:func:`record_rescan_comparison`): the share that differs is the measure of missed webhooks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.confluence.client import ConfluenceClient
from app.db import Base, as_utc, insert_ignoring_conflicts
from app.errors import InvalidPayloadError
from app.reports.cache import ReportCache, ReportCacheEntry
from app.reports.model import ContentType, FreshnessReport, ReportItem, ReportScope
from app.reports.scan import MAX_ITEMS

log = logging.getLogger(__name__)

#: Events after which the content is not current (not counted by any report).
GONE_EVENTS: Final = frozenset(
    {"page_trashed", "page_archived", "page_removed", "blog_trashed", "blog_removed"}
)
#: Events after which the content was not current before (it did not exist, or was trashed/archived).
CAME_EVENTS: Final = frozenset(
    {"page_created", "page_restored", "page_unarchived", "blog_created", "blog_restored"}
)
#: How long a content state is kept to order late deliveries; older deliveries are dropped.
STATE_KEPT: Final = timedelta(days=2)
_ATTEMPTS: Final = 8


class ContentState(Base):
    """The latest change applied for one piece of content of a tenant (from its webhook)."""

    __tablename__ = "content_state"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    content_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    event_ms: Mapped[int] = mapped_column(sa.BigInteger)
    change: Mapped[str] = mapped_column(sa.Text)


class ReportCounter(Base):
    """Counters of the incremental updates (``rescans_compared``, ``rescans_differed``, …)."""

    __tablename__ = "report_counter"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


# -- reading a webhook -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentChange:
    """One page or blog post after a change, as its webhook describes it."""

    event: str
    content_id: str
    content_type: ContentType
    space_key: str
    title: str
    version: int
    updated_at: datetime
    created_at: datetime | None
    editor: str | None
    link: str | None
    at_ms: int

    @property
    def present(self) -> bool:
        """Whether the content is current after this change."""
        return self.event not in GONE_EVENTS

    @property
    def order(self) -> tuple[int, int]:
        return (self.version, self.at_ms)

    def item(self, base_url: str) -> ReportItem:
        """The report row; its link is kept relative to the site, as a scan's ``webui`` is."""
        webui = None
        if self.link and self.link.startswith(base_url.rstrip("/") + "/"):
            webui = self.link[len(base_url.rstrip("/")) :]
        return ReportItem(
            id=self.content_id,
            title=self.title,
            webui=webui,
            updated_at=self.updated_at,
            version=self.version,
            editor=self.editor,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "content_id": self.content_id,
            "content_type": self.content_type,
            "space_key": self.space_key,
            "title": self.title,
            "version": self.version,
            "updated_at": self.updated_at.isoformat(),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "editor": self.editor,
            "link": self.link,
            "at_ms": self.at_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContentChange:
        created = data.get("created_at")
        return cls(
            **{
                **data,
                "updated_at": datetime.fromisoformat(data["updated_at"]),
                "created_at": datetime.fromisoformat(created) if created else None,
            }
        )


def _ms_time(value: Any, name: str) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**14:
        raise InvalidPayloadError(f"The webhook field {name!r} must be a time in milliseconds.")
    return datetime.fromtimestamp(value / 1000, UTC)


def _short_text(data: dict[str, Any], name: str, *, required: bool, limit: int = 255) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidPayloadError(f"The webhook field {name!r} is missing or not a short string.")
    return value


def parse_change(event: str, body: dict[str, Any]) -> ContentChange:
    """Read a page or blog webhook body; InvalidPayloadError (400) for anything we cannot use."""
    blog = event.startswith("blog_")
    content = body.get("blog" if blog else "page")
    if not isinstance(content, dict):
        raise InvalidPayloadError(f"The webhook payload has no {'blog' if blog else 'page'} object.")
    raw_id = content.get("idAsString", content.get("id"))
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.isdigit() or len(raw_id) > 20:
        raise InvalidPayloadError("The webhook content id must be a number.")
    version = content.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidPayloadError("The webhook field 'version' must be a positive number.")
    updated = _ms_time(content.get("modificationDate"), "modificationDate")
    created_raw = content.get("creationDate")
    at_raw: Any = body.get("timestamp", content.get("modificationDate"))
    _ms_time(at_raw, "timestamp")
    return ContentChange(
        event=event,
        content_id=raw_id,
        content_type="blogposts" if blog else "pages",
        space_key=_short_text(content, "spaceKey", required=True) or "",
        title=_short_text(content, "title", required=True) or "",
        version=version,
        updated_at=updated,
        created_at=_ms_time(created_raw, "creationDate") if created_raw is not None else None,
        editor=_short_text(content, "lastModifierAccountId", required=False, limit=128),
        link=_short_text(content, "self", required=False, limit=2048),
        at_ms=int(at_raw),
    )


# -- what Confluence can tell (one call each, only when a report needs it) ---------------------------


class ConfluenceFacts:
    """Answers the few questions a change raises, asking Confluence lazily; None when it cannot say."""

    def __init__(self, client: Callable[[], ConfluenceClient]) -> None:
        self._client = client
        self._ancestors: dict[str, list[str] | None] = {}
        self._children: dict[str, bool | None] = {}

    def _ask(self, what: Callable[[ConfluenceClient], Any]) -> Any:
        try:
            with self._client() as client:
                return what(client)
        except Exception as exc:  # any failure: the report is rescanned instead
            log.info("webhook update could not ask Confluence: %s", type(exc).__name__)
            return None

    def ancestors(self, page_id: str) -> list[str] | None:
        if page_id not in self._ancestors:
            found = self._ask(lambda c: [str(a.get("id")) for a in c.iter(f"/pages/{page_id}/ancestors")])
            self._ancestors[page_id] = found
        return self._ancestors[page_id]

    def has_children(self, page_id: str) -> bool | None:
        if page_id not in self._children:
            answer = self._ask(lambda c: c.get(f"/pages/{page_id}/direct-children", {"limit": "1"}))
            results = answer.get("results") if isinstance(answer, dict) else None
            self._children[page_id] = bool(results) if isinstance(results, list) else None
        return self._children[page_id]

    def version_time(self, change: ContentChange, number: int) -> datetime | None:
        answer = self._ask(
            lambda c: c.get(f"/{change.content_type}/{change.content_id}", {"version": str(number)})
        )
        version = answer.get("version") if isinstance(answer, dict) else None
        stamp = version.get("createdAt") if isinstance(version, dict) else None
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else None
        except ValueError:
            return None


# -- applying a change to one report -----------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """The report after a change (None: unchanged), and whether the change could be decided."""

    report: FreshnessReport | None
    certain: bool = True


def _key(item: ReportItem) -> tuple[datetime, str]:
    return (item.updated_at, item.id)


def _inside(change: ContentChange, scope: ReportScope, listed: bool, facts: ConfluenceFacts) -> bool | None:
    """Whether the content belongs to ``scope`` after the change (None: cannot say)."""
    if not change.present or change.space_key.upper() != scope.space_key.upper():
        return False
    if scope.root_page_id is None or change.content_type == "blogposts":
        return True
    if change.content_id == scope.root_page_id:
        return False
    if listed and change.event != "page_moved":
        return True  # it was under the root, and only a move changes that
    ancestors = facts.ancestors(change.content_id)
    return None if ancestors is None else scope.root_page_id in ancestors


def _was_in_unlisted(
    change: ContentChange, scope: ReportScope, previous: ContentChange | None, scanned_at: datetime
) -> bool | None:
    """For a truncated report: was this unlisted content counted before the change? (None: unknown)"""
    if previous is not None:
        if not previous.present or previous.space_key.upper() != scope.space_key.upper():
            return False
        return True if scope.root_page_id is None else None
    if change.event in CAME_EVENTS or change.event.endswith("_removed"):
        return False  # it was not current before
    if change.created_at is not None and change.created_at > scanned_at:
        return False  # created after the scan
    if scope.root_page_id is not None or change.event == "page_moved":
        return None  # where it sat before is not known
    return change.space_key.upper() == scope.space_key.upper()


def apply_change(
    report: FreshnessReport,
    change: ContentChange,
    *,
    previous: ContentChange | None,
    facts: ConfluenceFacts,
    base_url: str,
    version_time: datetime,
    known_only: bool = False,
) -> Applied:
    """``report`` after ``change`` (see the module docstring for what can and cannot be known)."""
    scope = report.scope
    if change.content_type != scope.content_type:
        return Applied(None)
    threshold = report.reference_time - timedelta(days=scope.stale_days)
    items = report.items
    listed = next((item for item in items if item.id == change.content_id), None)
    complete = report.scanned <= len(items)
    if listed is not None:
        was_in, was_stale = True, listed.updated_at < threshold
    elif complete:
        was_in, was_stale = False, False
    elif known_only:
        return Applied(None)
    else:
        found = _was_in_unlisted(change, scope, previous, report.reference_time)
        if found is None:
            return Applied(None, certain=False)
        was_in, was_stale = found, False
        if was_in:
            before = _time_before(change, previous, facts)
            if items and items[-1].updated_at >= threshold:
                was_stale = False  # everything unlisted is fresher than a fresh last row
            elif before is None:
                return Applied(None, certain=False)
            else:
                was_stale = before < threshold
    now_in = _inside(change, scope, listed is not None, facts)
    if now_in is None:
        return Applied(None, certain=False)
    if not was_in and not now_in:
        return Applied(None)
    kept = [item for item in items if item.id != change.content_id]
    if now_in:
        new_item = change.item(base_url)
        if complete or (items and _key(new_item) <= _key(items[-1])):
            kept.append(new_item)
            kept.sort(key=_key)
            del kept[MAX_ITEMS:]
    now_stale = now_in and change.updated_at < threshold
    scanned = report.scanned + int(now_in) - int(was_in)
    stale = report.stale + int(now_stale) - int(was_stale)
    if scanned == report.scanned and stale == report.stale and kept == items:
        return Applied(None)
    return Applied(
        replace(
            report,
            computed_at=version_time,
            scanned_at=report.reference_time,
            scanned=max(0, scanned),
            stale=max(0, stale),
            items=kept,
        )
    )


def _time_before(
    change: ContentChange, previous: ContentChange | None, facts: ConfluenceFacts
) -> datetime | None:
    """The content's last-version time before ``change``."""
    if previous is not None:
        return previous.updated_at
    if not change.event.endswith("_updated"):
        return change.updated_at  # status changes and moves make no version
    if change.version <= 1:
        return None
    return facts.version_time(change, change.version - 1)


# -- the job -----------------------------------------------------------------------------------------


def next_version(current: datetime, now: datetime) -> datetime:
    """A new ``computed_at``: the decoded-report caches key on it, so it must change."""
    return max(now, current + timedelta(microseconds=1))


def _claim_order(
    session: Session, client_key: str, change: ContentChange
) -> tuple[bool, ContentChange | None]:
    """Record ``change`` as the content's latest if it is newer; (True, previous) when it is."""
    row = session.get(ContentState, (client_key, change.content_id))
    if row is None:
        inserted = insert_ignoring_conflicts(
            session,
            ContentState,
            {
                "client_key": client_key,
                "content_id": change.content_id,
                "version": change.version,
                "event_ms": change.at_ms,
                "change": json.dumps(change.to_json()),
            },
        )
        if inserted:
            return True, None
        row = session.get(ContentState, (client_key, change.content_id))
        assert row is not None
    session.refresh(row)
    if (row.version, row.event_ms) >= change.order:
        return False, None
    previous = ContentChange.from_json(json.loads(row.change))
    result = session.execute(
        sa.update(ContentState)
        .where(
            ContentState.client_key == client_key,
            ContentState.content_id == change.content_id,
            ContentState.version == row.version,
            ContentState.event_ms == row.event_ms,
        )
        .values(version=change.version, event_ms=change.at_ms, change=json.dumps(change.to_json()))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1), previous  # type: ignore[attr-defined]


def apply_to_reports(
    session: Session,
    client_key: str,
    change: ContentChange,
    *,
    base_url: str,
    facts: ConfluenceFacts,
    now: datetime,
    previous: ContentChange | None,
) -> dict[str, Any]:
    """Apply ``change`` to every cached report of the tenant; commits. Returns what happened (the
    scopes it could not decide are in ``expired_scopes``: the caller asks for their rescan)."""
    done: dict[str, Any] = {"updated": 0, "expired": 0, "expired_scopes": []}
    rows = session.execute(
        sa.select(ReportCacheEntry.scope_key).where(ReportCacheEntry.client_key == client_key)
    ).all()
    for (scope_key,) in rows:
        for _ in range(_ATTEMPTS):
            # The cache's reader: a report this process already decoded (same row version) is reused.
            cached = ReportCache(session).get(client_key, scope_key)
            if cached is None:
                break
            report = cached.report
            if report.scope.content_type == "pages" and _moved_a_subtree(change, facts):
                applied = Applied(None, certain=False)  # a subtree moved: only a scan sees where
            else:
                applied = apply_change(
                    report,
                    change,
                    previous=previous,
                    facts=facts,
                    base_url=base_url,
                    version_time=next_version(as_utc(report.computed_at), now),
                )
            where = (
                ReportCacheEntry.client_key == client_key,
                ReportCacheEntry.scope_key == scope_key,
                ReportCacheEntry.computed_at == report.computed_at,
            )
            if not applied.certain:
                result = session.execute(sa.update(ReportCacheEntry).where(*where).values(expires_at=now))
            elif applied.report is not None:
                result = session.execute(
                    sa.update(ReportCacheEntry)
                    .where(*where)
                    .values(
                        payload=json.dumps(applied.report.to_json()), computed_at=applied.report.computed_at
                    )
                )
            else:
                break
            if result.rowcount == 1:  # type: ignore[attr-defined]
                if applied.certain:
                    done["updated"] += 1
                else:
                    done["expired"] += 1
                    done["expired_scopes"].append(report.scope)
                break
            # Another writer replaced the row first; this UPDATE wrote nothing, so there is nothing
            # to undo (a rollback would also drop the order claim and the reports already updated).
            # Read it again: each statement sees the latest committed row.
    session.commit()
    ReportCache(session).forget(client_key)
    return done


def _moved_a_subtree(change: ContentChange, facts: ConfluenceFacts) -> bool:
    """A page that moved with (possibly) children under it; asked only when a page report needs it,
    and ``facts`` remembers the answer."""
    return change.event == "page_moved" and facts.has_children(change.content_id) is not False


def handle_change(
    session: Session,
    client_key: str,
    change: ContentChange,
    *,
    base_url: str,
    facts: ConfluenceFacts,
    now: datetime,
) -> dict[str, Any] | None:
    """The job: drop an old or duplicate change, else apply it to the reports. None when dropped."""
    newer, previous = _claim_order(session, client_key, change)
    if not newer:
        session.rollback()
        return None
    return apply_to_reports(
        session, client_key, change, base_url=base_url, facts=facts, now=now, previous=previous
    )


# -- after a scan ------------------------------------------------------------------------------------


def reconcile(
    session: Session, client_key: str, report: FreshnessReport, *, base_url: str, now: datetime
) -> FreshnessReport:
    """A freshly scanned report, with the webhook changes made since its scan started re-applied, and
    compared with the report it replaces (:func:`record_rescan_comparison`)."""
    since_ms = int(report.reference_time.timestamp() * 1000)
    rows = session.scalars(
        sa.select(ContentState.change).where(
            ContentState.client_key == client_key, ContentState.event_ms >= since_ms
        )
    ).all()
    offline = ConfluenceFacts(_no_client)
    for raw in rows:
        change = ContentChange.from_json(json.loads(raw))
        applied = apply_change(
            report,
            change,
            previous=None,
            facts=offline,
            base_url=base_url,
            version_time=next_version(report.computed_at, report.computed_at),
            known_only=True,
        )
        if applied.report is not None:
            report = applied.report
    old = session.scalar(
        sa.select(ReportCacheEntry.payload).where(
            ReportCacheEntry.client_key == client_key, ReportCacheEntry.scope_key == report.scope.cache_key
        )
    )
    if old is not None:
        record_rescan_comparison(session, differs(FreshnessReport.from_json(json.loads(old)), report))
    return report


def _no_client() -> ConfluenceClient:
    raise LookupError("no Confluence calls while reconciling")


def differs(incremental: FreshnessReport, rescanned: FreshnessReport) -> bool:
    """Whether a rescan found something the incrementally updated report did not know.

    Counts and rows, not ``stale`` (time alone moves pages past the threshold); the updated report may
    list fewer rows (slots that only a scan fills), so its rows must be the rescan's first ones.
    """
    if incremental.scanned != rescanned.scanned:
        return True

    def row(item: ReportItem) -> tuple[str, int | None, datetime, str]:
        return (item.id, item.version, item.updated_at, item.title)

    head = rescanned.items[: len(incremental.items)]
    return [row(i) for i in incremental.items] != [row(i) for i in head]


#: Functions called with ``differed`` after every comparison (a metrics module may add one).
RESCAN_OBSERVERS: list[Callable[[bool], None]] = []


def record_rescan_comparison(session: Session, differed: bool) -> None:
    """Count a rescan compared with the report it replaces (and whether it differed); log it."""
    names = ["rescans_compared"] + (["rescans_differed"] if differed else [])
    for name in names:
        insert_ignoring_conflicts(session, ReportCounter, {"name": name, "value": 0})
        session.execute(
            sa.update(ReportCounter).where(ReportCounter.name == name).values(value=ReportCounter.value + 1)
        )
    if differed:
        log.info("a rescan found changes the webhooks had not brought")
    for observer in RESCAN_OBSERVERS:
        try:
            observer(differed)
        except Exception:  # a metrics hook must never break a scan
            log.exception("rescan observer failed")


def counters(session: Session) -> dict[str, int]:
    """Every counter, by name."""
    return {row.name: int(row.value) for row in session.scalars(sa.select(ReportCounter)).all()}


def prune_states(session: Session, now: datetime) -> int:
    """Forget content states older than :data:`STATE_KEPT`; returns how many."""
    oldest = int((now - STATE_KEPT).timestamp() * 1000)
    result = session.execute(sa.delete(ContentState).where(ContentState.event_ms < oldest))
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
