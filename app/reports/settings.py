"""Per-tenant settings of the freshness report, with their defaults and validation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from app.local_copies import copies, read_through
from app.reports.model import SPACE_KEY
from app.tenants.models import utcnow

#: Inclusive bounds of each numeric setting.
STALE_DAYS_RANGE: Final = (1, 3650)
CACHE_TTL_MINUTES_RANGE: Final = (1, 1440)
ROWS_PER_PAGE_RANGE: Final = (1, 100)
MAX_EXCLUDED_SPACES: Final = 200


class TenantSettingsRow(Base):
    """The stored settings of one tenant (absent until an admin first saves)."""

    __tablename__ = "tenant_settings"

    client_key: Mapped[str] = mapped_column(sa.ForeignKey("tenant.client_key"), primary_key=True)
    stale_days: Mapped[int] = mapped_column()
    cache_ttl_minutes: Mapped[int] = mapped_column()
    rows_per_page: Mapped[int] = mapped_column()
    excluded_spaces: Mapped[str] = mapped_column(sa.Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(sa.String(255))


@dataclass(frozen=True)
class ReportSettings:
    """Validated settings, as the report and the admin page use them."""

    stale_days: int = 90
    cache_ttl_minutes: int = 60
    rows_per_page: int = 10
    excluded_spaces: tuple[str, ...] = ()

    def excludes(self, space_key: str) -> bool:
        """True if reports on ``space_key`` are switched off (space keys compare case-insensitively)."""
        return space_key.upper() in {key.upper() for key in self.excluded_spaces}

    def as_json(self) -> dict[str, Any]:
        return {
            "staleDays": self.stale_days,
            "cacheTtlMinutes": self.cache_ttl_minutes,
            "rowsPerPage": self.rows_per_page,
            "excludedSpaces": list(self.excluded_spaces),
        }


class SettingsValidationError(ValueError):
    """Field-by-field problems, shown next to each field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def _integer(
    form: Mapping[str, Any], name: str, label: str, bounds: tuple[int, int], errors: dict[str, str]
) -> int:
    raw = form.get(name)
    low, high = bounds
    if isinstance(raw, bool):
        raw = None
    try:
        value = int(str(raw).strip()) if raw is not None and str(raw).strip() != "" else None
    except ValueError:
        value = None
    if value is None:
        errors[name] = f"{label} must be a whole number."
        return low
    if not low <= value <= high:
        errors[name] = f"{label} must be between {low} and {high}."
    return value


def _space_keys(raw: Any, errors: dict[str, str]) -> tuple[str, ...]:
    items: list[Any]
    if raw is None or raw == "":
        items = []
    elif isinstance(raw, str):
        items = [part for part in re.split(r"[\s,]+", raw) if part]
    elif isinstance(raw, list):
        items = raw
    else:
        errors["excludedSpaces"] = "Excluded spaces must be a list of space keys."
        return ()
    bad = [str(item) for item in items if not isinstance(item, str) or not SPACE_KEY.match(item)]
    if bad:
        errors["excludedSpaces"] = f"Not a space key: {', '.join(bad[:3])}."
    elif len(items) > MAX_EXCLUDED_SPACES:
        errors["excludedSpaces"] = f"At most {MAX_EXCLUDED_SPACES} spaces can be excluded."
    unique = dict.fromkeys(item.upper() for item in items if isinstance(item, str))
    return tuple(unique)


#: The name of this process's copies of tenants' settings (``app/local_copies.py``).
_SETTINGS: Final = "tenant_settings"


def parse_settings(form: Mapping[str, Any]) -> ReportSettings:
    """Validate submitted settings (JSON names); raise SettingsValidationError listing every bad field."""
    errors: dict[str, str] = {}
    settings = ReportSettings(
        stale_days=_integer(form, "staleDays", "Stale after (days)", STALE_DAYS_RANGE, errors),
        cache_ttl_minutes=_integer(
            form, "cacheTtlMinutes", "Cache lifetime (minutes)", CACHE_TTL_MINUTES_RANGE, errors
        ),
        rows_per_page=_integer(form, "rowsPerPage", "Rows per page", ROWS_PER_PAGE_RANGE, errors),
        excluded_spaces=_space_keys(form.get("excludedSpaces"), errors),
    )
    if errors:
        raise SettingsValidationError(errors)
    return settings


def load_settings(session: Session, client_key: str, *, recent_ok: bool = False) -> ReportSettings:
    """Return the tenant's settings, or the defaults if none were saved.

    :param recent_ok: this process's copy, up to ``APP_HOT_CACHE_SECONDS`` old, will do (the hot
        path; ``app/local_copies.py``). Saving settings in this process drops the copy at once.
    """
    return read_through(
        session, _SETTINGS, client_key, lambda: _read_settings(session, client_key), recent_ok=recent_ok
    )


def _read_settings(session: Session, client_key: str) -> ReportSettings:
    row = session.get(TenantSettingsRow, client_key)
    if row is None:
        return ReportSettings()
    return ReportSettings(
        stale_days=row.stale_days,
        cache_ttl_minutes=row.cache_ttl_minutes,
        rows_per_page=row.rows_per_page,
        excluded_spaces=tuple(json.loads(row.excluded_spaces or "[]")),
    )


def save_settings(
    session: Session, client_key: str, settings: ReportSettings, *, updated_by: str | None
) -> None:
    """Store validated settings for the tenant."""
    row = session.get(TenantSettingsRow, client_key)
    if row is None:
        row = TenantSettingsRow(client_key=client_key)
        session.add(row)
    row.stale_days = settings.stale_days
    row.cache_ttl_minutes = settings.cache_ttl_minutes
    row.rows_per_page = settings.rows_per_page
    row.excluded_spaces = json.dumps(list(settings.excluded_spaces))
    row.updated_at = utcnow()
    row.updated_by = updated_by
    session.commit()
    copies(session, _SETTINGS).discard([client_key])
