"""What a freshness report says: the scope it covers, a summary, and the stalest items."""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

#: A Confluence space key as a macro or a setting may name it (a personal space starts with "~").
SPACE_KEY: Final = re.compile(r"^~?[A-Za-z0-9_]{1,255}$")

ContentType = Literal["pages", "blogposts"]
CONTENT_TYPES: Final = ("pages", "blogposts")


@dataclass(frozen=True)
class ReportScope:
    """Which content a report covers, and the threshold that makes an item stale."""

    space_key: str
    content_type: ContentType = "pages"
    root_page_id: str | None = None
    stale_days: int = 90

    @functools.cached_property
    def cache_key(self) -> str:
        """A stable key for the report cache; every field changes what the report says.

        Worked out once per scope (a warm load asks for it several times; the scope is frozen).
        """
        return f"{self.content_type}:{self.space_key.upper()}:{self.root_page_id or '-'}:{self.stale_days}"


@dataclass(frozen=True)
class ReportItem:
    """One page or blog post, as the report shows it."""

    id: str
    title: str
    webui: str | None
    updated_at: datetime
    version: int | None
    editor: str | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["updated_at"] = self.updated_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportItem:
        return cls(**{**data, "updated_at": datetime.fromisoformat(data["updated_at"])})


@dataclass(frozen=True)
class FreshnessReport:
    """The result of scanning a scope at ``computed_at``; ``items`` are the stalest first."""

    scope: ReportScope
    computed_at: datetime
    scanned: int
    stale: int
    items: list[ReportItem] = field(default_factory=list)
    space_name: str | None = None
    #: The scan's reference time, what "stale" is counted from. ``computed_at`` is the report's version
    #: (it moves on with every webhook update); this stays the scan's. None: the same as ``computed_at``.
    scanned_at: datetime | None = None

    @property
    def reference_time(self) -> datetime:
        """What the ``stale`` count is measured from."""
        return self.scanned_at or self.computed_at

    @property
    def fresh(self) -> int:
        return self.scanned - self.stale

    @property
    def fresh_share(self) -> float | None:
        """The share of items that are fresh, or None for an empty scope."""
        return self.fresh / self.scanned if self.scanned else None

    @property
    def oldest(self) -> ReportItem | None:
        return self.items[0] if self.items else None

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": asdict(self.scope),
            "computed_at": self.computed_at.isoformat(),
            "scanned": self.scanned,
            "stale": self.stale,
            "space_name": self.space_name,
            "items": [item.to_json() for item in self.items],
            **({"scanned_at": self.scanned_at.isoformat()} if self.scanned_at is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FreshnessReport:
        return cls(
            scope=ReportScope(**data["scope"]),
            computed_at=datetime.fromisoformat(data["computed_at"]),
            scanned=data["scanned"],
            stale=data["stale"],
            space_name=data.get("space_name"),
            items=[ReportItem.from_json(item) for item in data["items"]],
            scanned_at=datetime.fromisoformat(data["scanned_at"]) if data.get("scanned_at") else None,
        )
