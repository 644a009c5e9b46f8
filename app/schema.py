"""Every model module, imported so that ``Base.metadata`` knows every table (Alembic, tests)."""

from __future__ import annotations

import app.reports.cache
import app.reports.jobs
import app.reports.privacy
import app.reports.settings
import app.reports.webhook_updates
import app.tenants.health
import app.tenants.models
from app.db import Base

__all__ = ["Base", "metadata"]

metadata = Base.metadata
# Keep the imports referenced so linters see them as used.
_MODEL_MODULES = (
    app.reports.cache,
    app.reports.jobs,
    app.reports.privacy,
    app.reports.webhook_updates,
    app.tenants.health,
    app.tenants.models,
    app.reports.settings,
)
