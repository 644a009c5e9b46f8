"""The macro's parameters, from its iframe URL, validated with messages a page author understands."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast

from app.errors import BadRequestError
from app.reports.model import CONTENT_TYPES, SPACE_KEY, ContentType, ReportScope
from app.reports.settings import ROWS_PER_PAGE_RANGE, STALE_DAYS_RANGE, ReportSettings

_PAGE_ID: Final = re.compile(r"^[0-9]{1,20}$")


def _int(field: str | None, label: str, bounds: tuple[int, int], default: int) -> int:
    raw = (field or "").strip()
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
        """Read the macro parameters, falling back to the page's space and the admin's defaults.

        A pure function of the fields it reads and two settings, asked again on every load of a
        macro: recent answers are kept (refusals are not), unless the fields are far longer than any
        valid ones.
        """
        fields = (
            args.get("space"),
            args.get("spaceKey"),
            args.get("root"),
            args.get("contentType"),
            args.get("staleDays"),
            args.get("rows"),
        )
        if sum(map(len, filter(None, fields))) > _LONGEST_FIELDS:
            return cls._parse(*fields, settings.stale_days, settings.rows_per_page)
        return _parse_kept(*fields, settings.stale_days, settings.rows_per_page)

    @classmethod
    def _parse(
        cls,
        space: str | None,
        space_key_field: str | None,
        root_field: str | None,
        content_type_field: str | None,
        stale_days_field: str | None,
        rows_field: str | None,
        default_stale_days: int,
        default_rows: int,
    ) -> MacroParams:
        space_key = (space or "").strip() or (space_key_field or "").strip()
        if not space_key:
            raise BadRequestError("The macro has no space to report on. Set its “Space key” parameter.")
        if not SPACE_KEY.match(space_key):
            raise BadRequestError("The macro's “Space key” is not a valid space key.")
        root = (root_field or "").strip() or None
        if root is not None and not _PAGE_ID.match(root):
            raise BadRequestError("The macro's “Root page id” must be a page id (digits only).")
        content_type = (content_type_field or "").strip() or "pages"
        if content_type not in CONTENT_TYPES:
            raise BadRequestError("The macro's “Content type” must be pages or blog posts.")
        stale_days = _int(stale_days_field, "Stale after (days)", STALE_DAYS_RANGE, default_stale_days)
        rows = _int(rows_field, "Rows to show", ROWS_PER_PAGE_RANGE, default_rows)
        scope = ReportScope(
            space_key=space_key,
            content_type=cast(ContentType, content_type),
            root_page_id=root,
            stale_days=stale_days,
        )
        return cls(scope=scope, rows=rows)


#: Longer than any valid fields together (a space key is at most 255 characters): such fields are
#: parsed, and refused, without being kept.
_LONGEST_FIELDS: Final = 400

_parse_kept = functools.lru_cache(maxsize=4096)(MacroParams._parse)
