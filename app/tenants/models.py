"""The tenant row: one per Confluence site (``clientKey``) that ever installed the app."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.secrets_at_rest import SealedString


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Tenant(Base):
    """A Confluence site that installed the app, keyed by its Connect clientKey.

    Uninstalling keeps the row (``installed`` false), so a later reinstall is related to it.
    """

    __tablename__ = "tenant"

    client_key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    app_key: Mapped[str] = mapped_column(sa.String(80))
    #: Sealed at rest when APP_SECRETS_KEYS is set (app/secrets_at_rest.py); plaintext here.
    shared_secret: Mapped[str] = mapped_column(SealedString(512))
    base_url: Mapped[str] = mapped_column(sa.String(255), index=True)
    display_url: Mapped[str | None] = mapped_column(sa.String(255))
    product_type: Mapped[str] = mapped_column(sa.String(32))
    description: Mapped[str | None] = mapped_column(sa.Text)
    oauth_client_id: Mapped[str | None] = mapped_column(sa.String(255))
    installation_id: Mapped[str | None] = mapped_column(sa.String(512))
    server_version: Mapped[str | None] = mapped_column(sa.String(64))
    plugins_version: Mapped[str | None] = mapped_column(sa.String(64))
    installed: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    installed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Set when a site move (same ``baseUrl``, new ``clientKey``) replaced this tenant: the new key.
    superseded_by: Mapped[str | None] = mapped_column(sa.String(255))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def site_name(self) -> str:
        """The site's host (and port, if any) as people know it: from ``displayUrl`` if set."""
        return urlsplit(self.display_url or self.base_url).netloc

    def __repr__(self) -> str:
        # Never the shared secret.
        return (
            f"Tenant(client_key={self.client_key!r}, base_url={self.base_url!r}, "
            f"installed={self.installed!r}, enabled={self.enabled!r})"
        )
