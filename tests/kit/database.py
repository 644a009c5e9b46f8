"""The database tests run against: a fresh SQLite file, or PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

import app.schema  # noqa: F401  (every table)
from app.db import Base


def fresh_database_url(tmp_path: Path) -> str:
    """Return ``TEST_DATABASE_URL`` (emptied first) or a new SQLite file under ``tmp_path``."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'test.db'}"
    empty_database(url)
    return url


def empty_database(url: str) -> None:
    """Drop every table (ours and Alembic's) so each test starts from nothing."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def create_schema(url: str) -> None:
    """Create the tables from the models (migrations are tested on their own)."""
    engine = sa.create_engine(url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def session_factory_with_tenants(tmp_path: Path, client_keys: Iterable[str]) -> sessionmaker[Session]:
    """A fresh database with every table and one bare tenant row per client key (no Flask app)."""
    from app.db import make_engine
    from app.tenants.models import Tenant

    engine = make_engine(fresh_database_url(tmp_path))
    Base.metadata.create_all(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        for key in client_keys:
            session.add(
                Tenant(
                    client_key=key,
                    app_key="a",
                    shared_secret="s",
                    base_url=f"https://{key}.atlassian.net/wiki",
                    product_type="confluence",
                )
            )
        session.commit()
    return factory
