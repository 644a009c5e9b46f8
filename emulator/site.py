"""The emulated Confluence site's data: users, spaces, pages and blog posts, with cheap lookup indexes.

REST is read-only; content changes only through the control API (``emulator.changes``), one change at a
time under the state lock. Request threads read without locks, so a change never mutates a container a
reader may be iterating: it replaces the ``content`` dict when an id is added or removed, and replaces
index lists instead of editing them in place.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulator.people import (
    ADMIN_ACCOUNT_ID,
    DELETED_ACCOUNT_ID,
    USER_ACCOUNT_ID,
    USERS,
    User,
    shown_name,
)

__all__ = [
    "ADMIN_ACCOUNT_ID",
    "DELETED_ACCOUNT_ID",
    "USERS",
    "USER_ACCOUNT_ID",
    "Content",
    "Site",
    "Space",
    "User",
]


@dataclass(frozen=True, slots=True)
class Space:
    """A space; ``id`` is numeric as in v2, ``key`` is what URLs show."""

    id: int
    key: str
    name: str
    description: str
    homepage_id: int
    type: str = "global"
    status: str = "current"


@dataclass(frozen=True, slots=True)
class Content:
    """A page or blog post with its latest version; timestamps are epoch seconds (UTC)."""

    id: int
    kind: str  # "page" | "blogpost"
    space_id: int
    title: str
    parent_id: int | None
    position: int
    author_id: str  # who created it
    created_at: float
    modified_at: float
    version: int
    status: str
    labels: tuple[str, ...]
    editor_id: str = ""  # who made the latest version (the creator when empty)

    @property
    def last_editor(self) -> str:
        """The account id of the latest version's author."""
        return self.editor_id or self.author_id


def iso(ts: float) -> str:
    """Format epoch seconds the way Confluence v2 does (UTC, milliseconds, ``Z``)."""
    # One conversion for seconds and milliseconds alike (formatting them apart could print
    # 12:00:02.999 for a time just below 12:00:02).
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def slug(title: str) -> str:
    """The ``+``-joined title slug Confluence puts after the page id in web UI links."""
    from urllib.parse import quote_plus

    return quote_plus(title)


def label_id(name: str) -> str:
    """A stable numeric-looking label id derived from the label name."""
    return str(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))


@dataclass
class Site:
    """One Confluence Cloud tenant: its identity, users and content, plus indexes for the REST views."""

    name: str
    base_url: str  # origin + "/wiki"
    client_key: str
    seed: int
    now: float
    spaces: list[Space] = field(default_factory=list)
    content: dict[int, Content] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    pages_by_space: dict[int, list[int]] = field(default_factory=dict)
    blogposts_by_space: dict[int, list[int]] = field(default_factory=dict)
    users: tuple[User, ...] = USERS
    # (page id, app key, module key) -> {parameter identifier: value}, set through the control API.
    macro_params: dict[tuple[int, str, str], dict[str, str]] = field(default_factory=dict)
    # The last id handed out per kind ("page", "blogpost"), once content was created after seeding.
    id_counters: dict[str, int] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``: the site's scheme and host without the ``/wiki`` context path."""
        return self.base_url.removesuffix("/wiki")

    def add(self, item: Content) -> None:
        """Register content and keep the indexes in step (only called while seeding)."""
        self.content[item.id] = item
        if item.kind == "blogpost":
            self.blogposts_by_space.setdefault(item.space_id, []).append(item.id)
            return
        self.pages_by_space.setdefault(item.space_id, []).append(item.id)
        if item.parent_id is not None:
            self.children.setdefault(item.parent_id, []).append(item.id)

    def _index(self, item: Content, present: bool) -> None:
        """Add ``item`` to (or drop it from) the space and children indexes, replacing the lists."""
        by_space = self.blogposts_by_space if item.kind == "blogpost" else self.pages_by_space
        ids = [i for i in by_space.get(item.space_id, []) if i != item.id]
        if present:
            bisect.insort(ids, item.id)  # the lists are in id order, as seeded
        by_space[item.space_id] = ids
        if item.kind == "page" and item.parent_id is not None:
            siblings = [i for i in self.children.get(item.parent_id, []) if i != item.id]
            if present:
                siblings.append(item.id)
            self.children[item.parent_id] = siblings

    def put(self, item: Content) -> None:
        """Store a new or changed item (after seeding), keeping the indexes in step."""
        old = self.content.get(item.id)
        if old is None:
            self.content = {**self.content, item.id: item}
        else:
            if (old.space_id, old.parent_id) != (item.space_id, item.parent_id):
                self._index(old, present=False)
            self.content[item.id] = item
        if old is None or (old.space_id, old.parent_id) != (item.space_id, item.parent_id):
            self._index(item, present=True)

    def discard(self, content_id: int) -> None:
        """Forget an item for good (a purge); its children must have been moved away first."""
        old = self.content.get(content_id)
        if old is None:
            return
        self._index(old, present=False)
        self.children.pop(content_id, None)
        self.content = {k: v for k, v in self.content.items() if k != content_id}
        self.macro_params = {k: v for k, v in self.macro_params.items() if k[0] != content_id}

    def next_id(self, kind: str) -> int:
        """A fresh id for new content of this kind; ids of purged content are never reused."""
        counter = self.id_counters.get(kind)
        if counter is None:
            counter = max((c.id for c in self.content.values() if c.kind == kind), default=0)
        self.id_counters[kind] = counter + 1
        return counter + 1

    def replace_user(self, user: User) -> None:
        """Swap in a changed account (closed or renamed); the tuple is replaced, never edited."""
        self.users = tuple(user if u.account_id == user.account_id else u for u in self.users)

    def space(self, space_id: int) -> Space | None:
        """Return the space with this numeric id, if any."""
        for space in self.spaces:
            if space.id == space_id:
                return space
        return None

    def space_by_key(self, key: str) -> Space | None:
        """Return the space with this key, if any."""
        for space in self.spaces:
            if space.key == key:
                return space
        return None

    def page(self, page_id: int) -> Content | None:
        """Return the page (not blog post) with this id, if any."""
        item = self.content.get(page_id)
        return item if item is not None and item.kind == "page" else None

    def user(self, account_id: str) -> User | None:
        """Return the user with this account id (deleted ones too), if any; apps are not site users."""
        return next((u for u in self.users if u.account_id == account_id), None)

    def ancestors(self, page: Content) -> list[Content]:
        """Ancestors from the root down to the direct parent."""
        chain: list[Content] = []
        parent_id = page.parent_id
        while parent_id is not None and len(chain) < 10_000:
            parent = self.content[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return chain[::-1]

    def iter_descendants(self, page_id: int, max_depth: int) -> Iterator[tuple[Content, int]]:
        """Descendants breadth-first with their depth below ``page_id`` (1 = child), up to ``max_depth``."""
        level = [page_id]
        for depth in range(1, max_depth + 1):
            next_level: list[int] = []
            for parent in level:
                for child_id in self.children.get(parent, ()):
                    yield self.content[child_id], depth
                    next_level.append(child_id)
            if not next_level:
                return
            level = next_level

    def body_storage(self, item: Content, version: int | None = None) -> str:
        """A small storage-format body, escaped, derived from the title so it costs nothing to store."""
        from html import escape

        author = self.user(item.author_id)
        who = shown_name(author) if author else item.author_id
        return (
            f"<h2>{escape(item.title)}</h2>"
            f"<p>This {item.kind} was written by {escape(who)} "
            f"and is at version {version or item.version}.</p>"
            "<p>Use it as a reference for how the team works.</p>"
        )

    def summary(self) -> dict[str, object]:
        """What a test or another tool needs to talk to this site (no secrets)."""
        return {
            "name": self.name,
            "baseUrl": self.base_url,
            "displayUrl": self.base_url,
            "clientKey": self.client_key,
            "seed": self.seed,
            "users": [
                {"accountId": u.account_id, "displayName": u.display_name, "admin": u.is_admin}
                for u in self.users
            ],
            "adminAccountId": ADMIN_ACCOUNT_ID,
            "userAccountId": USER_ACCOUNT_ID,
            "spaces": [
                {
                    "id": str(s.id),
                    "key": s.key,
                    "name": s.name,
                    "homepageId": str(s.homepage_id),
                    "pages": len(self.pages_by_space.get(s.id, ())),
                    "blogposts": len(self.blogposts_by_space.get(s.id, ())),
                }
                for s in self.spaces
            ],
        }
