"""Content changes made through the control API, applied the way Confluence applies them.

Each change validates everything first (a :class:`ChangeError` leaves the site untouched), then stores the
new content, clears what was computed from the old tree, and hands the event to the webhook sender. REST
sees the change at once; apps get the webhook shortly after (see ``emulator.webhooks``).

Rules (from how Confluence Cloud behaves, kept deliberately small):

* pages live under a parent in a space (new pages go under the space's home page unless a parent is
  given); titles of current pages are unique within a space; blog posts have no parent;
* only current content can be edited, moved or trashed; trash keeps the page where it was; restore
  brings trashed content back (to the space root if its parent is gone); only trashed content can be
  purged (``remove``); a page with current or archived children cannot be trashed, purged or archived
  (move the children first): the emulator does not guess what Confluence would do with them;
* archive/unarchive and move are for pages only (blog posts have neither); a move takes the whole subtree
  with it when the space changes; moving, trashing and restoring do not create a version.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from emulator.accounts import find_account
from emulator.people import ADMIN_ACCOUNT_ID
from emulator.site import Content, Site
from emulator.state import EmulatorState
from emulator.webhooks import ContentEvent

MAX_TITLE = 255
PAST = {"trash": "trashed", "restore": "restored", "archive": "archived", "unarchive": "unarchived"}


class ChangeError(Exception):
    """A change was refused; ``status`` is 400 (bad input), 404 (unknown id) or 409 (wrong state)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


#: What happened: the event name and the content as it is now (as it was, for a purge); the same
#: value the webhook sender publishes.
Change = ContentEvent


def parse_time(value: object, name: str) -> float:
    """Epoch seconds from a number or an ISO 8601 string with a time zone (``2025-01-02T03:04:05Z``)."""
    if isinstance(value, bool):
        raise ChangeError(f"'{name}' must be epoch seconds or an ISO 8601 time with a zone")
    if isinstance(value, int | float):
        if not 0 <= value < 32_503_680_000:
            raise ChangeError(f"'{name}' is out of range")
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ChangeError(f"'{name}' is not an ISO 8601 time: {value!r}") from exc
        if parsed.tzinfo is None:
            raise ChangeError(f"'{name}' needs a time zone (e.g. a trailing Z)")
        return parsed.timestamp()
    raise ChangeError(f"'{name}' must be epoch seconds or an ISO 8601 time with a zone")


def check_fields(data: dict[str, object], allowed: set[str]) -> None:
    """ChangeError (400) naming every field of ``data`` not in ``allowed``."""
    unknown = set(data) - allowed
    if unknown:
        raise ChangeError(
            f"unknown fields: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
        )


def _actor(state: EmulatorState, data: dict[str, object]) -> str:
    account_id = data.get("authorId", ADMIN_ACCOUNT_ID)
    if not isinstance(account_id, str):
        raise ChangeError("'authorId' must be a string")
    account = find_account(state, account_id)
    if account is None or not account.active:
        raise ChangeError(f"no active account {account_id!r} on this site")
    return account_id


def _title(data: dict[str, object], required: bool) -> str | None:
    title = data.get("title")
    if title is None and not required:
        return None
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise ChangeError(f"'title' must be a non-empty string of at most {MAX_TITLE} characters")
    return title


def _content_id(data: dict[str, object], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ChangeError(f"'{name}' must be a content id (digits)")
    return int(value)


def _unique_title(site: Site, space_id: int, title: str, except_id: int | None = None) -> None:
    for i in site.pages_by_space.get(space_id, ()):
        other = site.content[i]
        if i != except_id and other.status == "current" and other.title == title:
            raise ChangeError(f"a page titled {title!r} already exists in this space (page {i})")


def _live_children(site: Site, page_id: int) -> list[int]:
    return [i for i in site.children.get(page_id, ()) if site.content[i].status in ("current", "archived")]


def require(state: EmulatorState, content_id: int) -> Content:
    """The page or blog post with this id, or a 404 :class:`ChangeError`."""
    item = state.site.content.get(content_id)
    if item is None:
        raise ChangeError(f"no page or blog post {content_id}", 404)
    return item


def _commit(state: EmulatorState, change: Change, *, tree_changed: bool) -> Change:
    """Make the change visible to REST (drop cached lists and inherited-restriction sets), then notify."""
    state.list_cache.clear()
    if tree_changed:
        state.access.invalidate()
    state.webhooks.publish(state, change)
    return change


def create(state: EmulatorState, kind: str, data: dict[str, object]) -> Change:
    """A new page (``kind`` "page") or blog post at version 1."""
    allowed = {"spaceKey", "title", "authorId", "createdAt"} | ({"parentId"} if kind == "page" else set())
    check_fields(data, allowed)
    site = state.site
    space_key = data.get("spaceKey")
    space = site.space_by_key(space_key) if isinstance(space_key, str) else None
    if space is None:
        raise ChangeError(f"'spaceKey' must name a space ({', '.join(s.key for s in site.spaces)})")
    title = _title(data, required=True)
    assert title is not None
    actor = _actor(state, data)
    at = parse_time(data["createdAt"], "createdAt") if "createdAt" in data else time.time()
    with state.lock:
        parent_id: int | None = None
        if kind == "page":
            parent_id = _content_id(data, "parentId") or space.homepage_id
            parent = site.page(parent_id)
            if parent is None or parent.status != "current" or parent.space_id != space.id:
                raise ChangeError(f"'parentId' must be a current page in space {space.key}")
            _unique_title(site, space.id, title)
        siblings = site.children.get(parent_id, []) if parent_id is not None else []
        position = max((site.content[i].position for i in siblings), default=-1) + 1
        if kind == "blogpost":
            position = len(site.blogposts_by_space.get(space.id, []))
        item = Content(
            id=site.next_id(kind),
            kind=kind,
            space_id=space.id,
            title=title,
            parent_id=parent_id,
            position=position,
            author_id=actor,
            created_at=at,
            modified_at=at,
            version=1,
            status="current",
            labels=(),
            editor_id=actor,
        )
        site.put(item)
        event = "page_created" if kind == "page" else "blog_created"
        return _commit(state, Change(event, item, actor, at), tree_changed=True)


def _event(item: Content, action: str) -> str:
    return f"{'page' if item.kind == 'page' else 'blog'}_{action}"


def _when(data: dict[str, object], item: Content) -> float:
    """The time of a change: ``at`` if given (never before the latest version), else now."""
    if "at" not in data:
        return max(time.time(), item.modified_at)
    at = parse_time(data["at"], "at")
    if at < item.modified_at:
        raise ChangeError("'at' is before the content's latest version")
    return at


def update(state: EmulatorState, content_id: int, data: dict[str, object]) -> Change:
    """A new version: optional new ``title``, ``authorId`` (the editor) and ``at``."""
    check_fields(data, {"title", "authorId", "at"})
    title = _title(data, required=False)
    actor = _actor(state, data)
    with state.lock:
        item = require(state, content_id)
        if item.status != "current":
            raise ChangeError(f"only current content can be edited ({content_id} is {item.status})", 409)
        at = _when(data, item)
        if title is not None and item.kind == "page":
            _unique_title(state.site, item.space_id, title, except_id=item.id)
        new = replace(
            item, title=title or item.title, version=item.version + 1, modified_at=at, editor_id=actor
        )
        state.site.put(new)
        return _commit(state, Change(_event(item, "updated"), new, actor, at), tree_changed=False)


def set_status(state: EmulatorState, content_id: int, action: str, data: dict[str, object]) -> Change:
    """``trash``, ``restore``, ``archive`` or ``unarchive`` (a status change, no new version)."""
    check_fields(data, {"authorId", "at"})
    actor = _actor(state, data)
    rules = {  # action: (statuses it applies to, new status, pages only)
        "trash": (("current",), "trashed", False),
        "restore": (("trashed",), "current", False),
        "archive": (("current",), "archived", True),
        "unarchive": (("archived",), "current", True),
    }
    before, after, pages_only = rules[action]
    site = state.site
    with state.lock:
        item = require(state, content_id)
        if pages_only and item.kind != "page":
            raise ChangeError(f"blog posts cannot be {action}d", 400)
        if item.status not in before:
            raise ChangeError(f"cannot {action} {item.kind} {content_id}: it is {item.status}", 409)
        if item.id in {s.homepage_id for s in site.spaces}:
            raise ChangeError("a space's home page cannot be trashed or archived", 409)
        if action in ("trash", "archive") and _live_children(site, item.id):
            raise ChangeError(f"page {content_id} has child pages: move them first", 409)
        at = _when(data, item)
        parent_id = item.parent_id
        if after == "current" and item.kind == "page":
            _unique_title(site, item.space_id, item.title, except_id=item.id)
            parent = site.content.get(parent_id) if parent_id is not None else None
            home = site.space(item.space_id)
            if (parent is None or parent.status != "current") and home is not None:
                parent_id = home.homepage_id  # its old parent is gone: back under the home page
        new = replace(item, status=after, parent_id=parent_id)
        site.put(new)
        return _commit(state, Change(_event(item, PAST[action]), new, actor, at), tree_changed=True)


def remove(state: EmulatorState, content_id: int, data: dict[str, object]) -> Change:
    """Purge trashed content: it is gone from REST (404) and its restriction is forgotten."""
    check_fields(data, {"authorId", "at"})
    actor = _actor(state, data)
    site = state.site
    with state.lock:
        item = require(state, content_id)
        if item.status != "trashed":
            raise ChangeError(f"only trashed content can be purged ({content_id} is {item.status})", 409)
        if site.children.get(item.id):
            raise ChangeError(f"page {content_id} still has child pages: move them first", 409)
        at = _when(data, item)
        # The event is built before the content goes, so it still names the space and the app's access.
        change = _commit(state, Change(_event(item, "removed"), item, actor, at), tree_changed=False)
        site.discard(item.id)
        state.access.drop(item.id)  # also forgets what was computed from the tree
        state.list_cache.clear()
        return change


def _subtree(site: Site, page_id: int) -> list[int]:
    found: list[int] = []
    level = [page_id]
    while level:
        found.extend(level)
        level = [c for p in level for c in site.children.get(p, ())]
    return found


def move(state: EmulatorState, content_id: int, data: dict[str, object]) -> Change:
    """Move a current page under ``parentId`` and/or into ``spaceKey`` (then under that space's home page)."""
    check_fields(data, {"parentId", "spaceKey", "authorId", "at"})
    actor = _actor(state, data)
    parent_id = _content_id(data, "parentId")
    space_key = data.get("spaceKey")
    if parent_id is None and space_key is None:
        raise ChangeError("give 'parentId' and/or 'spaceKey'")
    site = state.site
    with state.lock:
        item = require(state, content_id)
        if item.kind != "page":
            raise ChangeError("only pages can be moved", 400)
        if item.status != "current":
            raise ChangeError(f"only current pages can be moved ({content_id} is {item.status})", 409)
        if item.id in {s.homepage_id for s in site.spaces}:
            raise ChangeError("a space's home page cannot be moved", 409)
        space = site.space(item.space_id)
        if space_key is not None:
            space = site.space_by_key(space_key) if isinstance(space_key, str) else None
            if space is None:
                raise ChangeError(f"'spaceKey' must name a space ({', '.join(s.key for s in site.spaces)})")
        assert space is not None
        target_id = parent_id if parent_id is not None else space.homepage_id
        parent = site.page(target_id)
        if parent is None or parent.status != "current" or parent.space_id != space.id:
            raise ChangeError(f"'parentId' must be a current page in space {space.key}")
        subtree = _subtree(site, item.id)
        if target_id in subtree:
            raise ChangeError("a page cannot be moved below itself")
        if space.id != item.space_id:
            _unique_title(site, space.id, item.title)
        at = _when(data, item)
        siblings = site.children.get(target_id, [])
        position = max((site.content[i].position for i in siblings if i != item.id), default=-1) + 1
        moved = replace(item, parent_id=target_id, space_id=space.id, position=position)
        site.put(moved)
        for descendant in subtree[1:]:
            site.put(replace(site.content[descendant], space_id=space.id))
        return _commit(state, Change("page_moved", moved, actor, at), tree_changed=True)
