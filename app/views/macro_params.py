"""The macro's parameters, from its iframe URL, validated with messages a page author understands."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast

from app.errors import BadRequestError
from app.reports.model import CONTENT_TYPES, SPACE_KEY, ContentType, ReportScope
from app.reports.settings import ROWS_PER_PAGE_RANGE, STALE_DAYS_RANGE, ReportSettings

_PAGE_ID: Final = re.compile(r"^[0-9]{1,20}$")


def _int(args: Mapping[str, str], name: str, label: str, bounds: tuple[int, int], default: int) -> int:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    low, high = bounds
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequestError(f"The macro's “{label}” must be a whole number from {low} to {high}.")
    return int(raw)


@dataclass(frozen=True)
class MacroParams:
    """What one macro instance asks for."""

    scope: ReportScope
    rows: int

    @classmethod
    def parse(cls, args: Mapping[str, str], settings: ReportSettings) -> MacroParams:
        """Read the macro parameters, falling back to the page's space and the admin's defaults."""
        space_key = (args.get("space") or "").strip() or (args.get("spaceKey") or "").strip()
        if not space_key:
            raise BadRequestError("The macro has no space to report on. Set its “Space key” parameter.")
        if not SPACE_KEY.match(space_key):
            raise BadRequestError("The macro's “Space key” is not a valid space key.")
        root = (args.get("root") or "").strip() or None
        if root is not None and not _PAGE_ID.match(root):
            raise BadRequestError("The macro's “Root page id” must be a page id (digits only).")
        content_type = (args.get("contentType") or "").strip() or "pages"
        if content_type not in CONTENT_TYPES:
            raise BadRequestError("The macro's “Content type” must be pages or blog posts.")
        stale_days = _int(args, "staleDays", "Stale after (days)", STALE_DAYS_RANGE, settings.stale_days)
        rows = _int(args, "rows", "Rows to show", ROWS_PER_PAGE_RANGE, settings.rows_per_page)
        scope = ReportScope(
            space_key=space_key,
            content_type=cast(ContentType, content_type),
            root_page_id=root,
            stale_days=stale_days,
        )
        return cls(scope=scope, rows=rows)
