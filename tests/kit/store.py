"""Read the tenant table as plain data, to prove a refused request changed nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.db import get_engine
from app.tenants.models import Tenant


def snapshot(app: Flask) -> list[dict[str, Any]]:
    """Every tenant row, every column, in client-key order."""
    with get_engine(app).connect() as conn:
        rows = conn.execute(sa.select(Tenant.__table__).order_by(Tenant.client_key)).mappings().all()
    return [dict(row) for row in rows]


def dump_database(app: Flask) -> str:
    """Every row of every table the models know, as text (to grep for what must be gone)."""
    from app.schema import metadata

    lines = []
    with get_engine(app).connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                lines.append(f"{table.name}: {dict(row)!r}")
    return "\n".join(lines)
