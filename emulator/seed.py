"""Deterministic generation of a site's content from a seed.

Everything random comes from one ``random.Random(seed)``, so the same seed gives the same site; dates are
offsets before ``now`` so content has a realistic mix of fresh and stale pages whatever day the tests run.
"""

from __future__ import annotations

import hashlib
import random
from typing import Final

from emulator.people import CREATORS, EDITOR_IDS
from emulator.site import Content, Site, Space

DAY: Final = 86_400.0
MAX_AGE_DAYS: Final = 5 * 365
PAGE_ID_START: Final = 1_000_001
BLOGPOST_ID_START: Final = 9_000_001
SPACE_ID_START: Final = 65_537

# Curated titles exercise escaping and non-ASCII handling; generated ones fill the rest.
_SPACES: Final = (
    (
        "DOCS",
        "Documentation",
        "Product & user documentation",
        (
            "Getting started",
            "Installation guide",
            "Release <script>alert(1)</script> notes",
            'FAQ: "How do I…?"',
            "R&D handbook",
            "Überblick",
            "日本語のページ",
            "O'Brien's checklist",
            "Troubleshooting",
            "API reference",
            "Architecture overview",
            "Glossary",
            "Upgrade notes 2021",
            "Upgrade notes 2022",
            "Security model",
            "Configuration <b>bold</b> options",
            "Backup & restore",
            "Español: guía rápida",
            "Performance tuning",
            "Known issues",
        ),
    ),
    (
        "ENG",
        "Engineering",
        "How the engineering team works",
        (
            "Onboarding",
            "On-call runbook",
            "Code review guidelines",
            "Incident 2023-04 post-mortem",
            "Deploy pipeline",
            "Tech radar",
            "Decision log",
            "Service catalogue",
            "Testing strategy",
            "Coding standards & style",
            "Retro notes <Q3>",
            "Team charter",
        ),
    ),
    (
        "HR",
        "People & HR",
        "Policies, benefits and hiring",
        (
            "Holiday policy",
            "Benefits overview",
            "Hiring process",
            "Code of conduct",
            "Expense policy",
            "Remote work guidelines",
            "Mitarbeiterhandbuch",
        ),
    ),
)
_TOPICS: Final = (
    "Billing",
    "Search",
    "Sync",
    "Editor",
    "Exports",
    "Permissions",
    "Mobile",
    "Reporting",
    "Notifications",
    "Storage",
    "Importer",
    "Gateway",
    "Analytics",
    "Scheduler",
    "Webhooks",
)
_KINDS: Final = ("design", "runbook", "how-to", "meeting notes", "spec", "FAQ", "plan", "review")
_LABELS: Final = (
    "howto",
    "draft",
    "reference",
    "team-a",
    "team-b",
    "obsolete",
    "review-needed",
    "onboarding",
)
_BLOG_TITLES: Final = (
    "Quarterly update",
    "Welcome our new team members",
    "What we shipped",
    "Lessons & learnings",
    "Hack week recap",
    "Année en revue",
    "Roadmap preview",
)


def _editor(content_id: int) -> str:
    """The latest editor: a rule on the id, outside the random stream (the rest of the seed is unchanged)."""
    return EDITOR_IDS[content_id % len(EDITOR_IDS)]


def default_seed(port: int) -> int:
    """Two emulators on two ports show different data unless a seed is given."""
    return port


def client_key_for(port: int, seed: int) -> str:
    """A stable, per-port-and-seed tenant id, so two emulators are two tenants."""
    digest = hashlib.sha256(f"{port}:{seed}".encode()).hexdigest()[:8]
    return f"emulator-{port}-{digest}"


def build_site(*, origin: str, port: int, seed: int, now: float, name: str, docs_pages: int | None) -> Site:
    """Seed a whole site; ``docs_pages`` scales the DOCS space (cheap enough for 100,000 pages)."""
    site = Site(
        name=name, base_url=f"{origin}/wiki", client_key=client_key_for(port, seed), seed=seed, now=now
    )
    rng = random.Random(seed)
    next_page = PAGE_ID_START
    next_blog = BLOGPOST_ID_START
    for index, (key, space_name, description, titles) in enumerate(_SPACES):
        space_id = SPACE_ID_START + index
        count = docs_pages if key == "DOCS" and docs_pages is not None else len(titles) + 1
        count = max(1, count)
        site.spaces.append(Space(space_id, key, space_name, description, homepage_id=next_page))
        _seed_pages(site, rng, space_id, f"{space_name} Home", titles, next_page, count)
        next_page += count
        blog_count = 3 + rng.randrange(len(_BLOG_TITLES) - 2)
        for b in range(blog_count):
            created = now - rng.uniform(1, MAX_AGE_DAYS) * DAY
            site.add(
                Content(
                    id=next_blog,
                    kind="blogpost",
                    space_id=space_id,
                    title=f"{_BLOG_TITLES[b % len(_BLOG_TITLES)]} ({key})",
                    parent_id=None,
                    position=b,
                    author_id=rng.choice(CREATORS).account_id,
                    editor_id=_editor(next_blog),
                    created_at=created,
                    modified_at=created + (now - created) * rng.random() * 0.1,
                    version=1 + rng.randrange(3),
                    status="current",
                    labels=(),
                )
            )
            next_blog += 1
    return site


def _seed_pages(
    site: Site,
    rng: random.Random,
    space_id: int,
    home_title: str,
    titles: tuple[str, ...],
    first_id: int,
    count: int,
) -> None:
    """Create the home page and ``count - 1`` more in a random tree below it (plus one extra root)."""
    rand = rng.random
    authors = [u.account_id for u in CREATORS]
    n_authors = len(authors)
    now = site.now
    positions: dict[int | None, int] = {}
    for i in range(count):
        page_id = first_id + i
        if i == 0:
            title, parent = home_title, None
        elif i - 1 < len(titles):
            title = titles[i - 1]
            # The second curated page is a second root ("depth=root" then returns more than the home page).
            parent = None if i == 2 else first_id + int(i * rand() * rand())
        else:
            title = f"{_TOPICS[i % len(_TOPICS)]} {_KINDS[(i // len(_TOPICS)) % len(_KINDS)]} #{i}"
            parent = first_id + int(i * rand() * rand())
        if parent == page_id:
            parent = first_id
        created_ago = rand() * MAX_AGE_DAYS * DAY
        # Square a uniform draw so many pages are recently touched and a long tail is years old.
        modified_ago = created_ago * rand() ** 2 if i else rand() * 3 * DAY
        position = positions.get(parent, 0)
        positions[parent] = position + 1
        roll = rand()
        status = "archived" if roll < 0.04 and i > 2 else ("trashed" if roll > 0.99 and i > 2 else "current")
        labels = (_LABELS[int(rand() * len(_LABELS))],) if roll < 0.5 else ()
        site.add(
            Content(
                id=page_id,
                kind="page",
                space_id=space_id,
                title=title,
                parent_id=parent,
                position=position,
                author_id=authors[int(rand() * n_authors)],
                created_at=now - created_ago,
                modified_at=now - modified_ago,
                version=1 + int(rand() * 12),
                status=status,
                labels=labels,
                editor_id=_editor(page_id),
            )
        )
