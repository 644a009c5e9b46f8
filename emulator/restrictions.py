"""Read restrictions on pages and blog posts, applied the way Confluence Cloud applies them.

A read ("view") restriction names users and groups. A caller passes it when their account is named or
they are in a named group. A page is readable only if the caller passes the read restriction of the page
*and* of every ancestor that has one (view restrictions are inherited, and a child cannot loosen them).
A blog post has no ancestors, so only its own restriction counts. Space permissions are not modelled:
every account may view every space. Site admins get no bypass.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from emulator.people import ADMIN_ACCOUNT_ID, APPS_GROUP, SITE_ADMINS

if TYPE_CHECKING:
    from emulator.site import Content, Site

_MAX_DEPTH: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class Principal:
    """Whom a read is checked for: an account and the groups it is in."""

    account_id: str
    groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class ReadRestriction:
    """The users (account ids) and groups (names) allowed to read one piece of content."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def allows(self, principal: Principal) -> bool:
        """True if the principal is named or in a named group."""
        return principal.account_id in self.users or not principal.groups.isdisjoint(self.groups)

    def to_json(self) -> dict[str, list[str]]:
        """``{"users": [...], "groups": [...]}`` as the control API shows it."""
        return {"users": list(self.users), "groups": list(self.groups)}


#: Seeded restriction kinds. ``team``/``admins``: Una cannot read, Ada and apps can; ``ada``: only Ada.
TEAM: Final = ReadRestriction(users=(ADMIN_ACCOUNT_ID,), groups=(APPS_GROUP,))
ADMINS: Final = ReadRestriction(groups=(SITE_ADMINS, APPS_GROUP))
ADA_ONLY: Final = ReadRestriction(users=(ADMIN_ACCOUNT_ID,))


class Access:
    """The site's read restrictions (changeable through the control API) and who may read what.

    ``hidden(principal)`` is cached per principal and restriction generation, so filtering a list of
    100,000 pages costs one set lookup per page.
    """

    def __init__(self, site: Site, initial: dict[int, ReadRestriction] | None = None) -> None:
        self._site = site
        self._lock = threading.Lock()
        self._restrictions: dict[int, ReadRestriction] = dict(initial or {})
        self._hidden: dict[Principal, frozenset[int]] = {}
        self.generation = 0

    def get(self, content_id: int) -> ReadRestriction | None:
        """The content's own read restriction (not inherited ones), if any."""
        with self._lock:
            return self._restrictions.get(content_id)

    def all(self) -> dict[int, ReadRestriction]:
        """Every content id with its own read restriction."""
        with self._lock:
            return dict(self._restrictions)

    def drop(self, content_id: int) -> None:
        """Forget the restriction of purged content."""
        self.set(content_id, None)

    def set(self, content_id: int, restriction: ReadRestriction | None) -> None:
        """Replace (or with None remove) the content's read restriction."""
        with self._lock:
            if restriction is None or not (restriction.users or restriction.groups):
                self._restrictions.pop(content_id, None)
            else:
                self._restrictions[content_id] = restriction
            self._hidden.clear()
            self.generation += 1

    def invalidate(self) -> None:
        """Forget what was computed from the page tree (call after content was added, moved or purged)."""
        with self._lock:
            self._hidden.clear()
            self.generation += 1

    def hidden(self, principal: Principal) -> frozenset[int]:
        """Ids the principal may not read: failed restrictions and, for pages, everything below them."""
        with self._lock:
            cached = self._hidden.get(principal)
            if cached is not None:
                return cached
            restrictions = dict(self._restrictions)
        hidden: set[int] = set()
        for content_id, restriction in restrictions.items():
            if content_id in hidden or restriction.allows(principal):
                continue
            hidden.add(content_id)
            item = self._site.content.get(content_id)
            if item is not None and item.kind == "page":
                hidden.update(c.id for c, _ in self._site.iter_descendants(content_id, _MAX_DEPTH))
        result = frozenset(hidden)
        with self._lock:
            self._hidden[principal] = result
        return result

    def can_read(self, principal: Principal, item: Content) -> bool:
        """True if the principal passes the restrictions of ``item`` and of all its ancestors."""
        return item.id not in self.hidden(principal)

    def readable(self, principal: Principal, items: Iterable[Content]) -> list[Content]:
        """The items the principal may read, in their order."""
        hidden = self.hidden(principal)
        return [c for c in items if c.id not in hidden] if hidden else list(items)


def seed_restrictions(site: Site) -> dict[int, ReadRestriction]:
    """The seeded restrictions: a deterministic rule on the content, so the same seed gives the same ones.

    In each space, among current pages in id order (never the home page, so macros stay visible):
    the first page with children gets ``TEAM`` (its subtree is hidden from Una by inheritance), the first
    leaf outside it gets ``ADMINS``. In every space but DOCS, the next leaf gets ``ADA_ONLY`` (the app
    cannot read it) and so does the second blog post; the first blog post of every space gets ``TEAM``.
    DOCS has no page the app cannot read, because the app's own tests measure DOCS as the app sees it.
    """
    seeded: dict[int, ReadRestriction] = {}
    for space in site.spaces:
        candidates = [
            site.content[i]
            for i in site.pages_by_space.get(space.id, ())
            if i != space.homepage_id and site.content[i].status == "current"
        ]
        team = next((p for p in candidates if site.children.get(p.id)), None)
        taken: set[int] = set()
        if team is not None:
            seeded[team.id] = TEAM
            taken = {team.id, *(c.id for c, _ in site.iter_descendants(team.id, _MAX_DEPTH))}
        leaves = [p for p in candidates if p.id not in taken and not site.children.get(p.id)]
        kinds = [ADMINS] if space.key == "DOCS" else [ADMINS, ADA_ONLY]
        for leaf, kind in zip(leaves, kinds, strict=False):
            seeded[leaf.id] = kind
        blogposts = site.blogposts_by_space.get(space.id, [])
        blog_kinds = [TEAM] if space.key == "DOCS" else [TEAM, ADA_ONLY]
        for blog_id, kind in zip(blogposts, blog_kinds, strict=False):
            seeded[blog_id] = kind
    return seeded
