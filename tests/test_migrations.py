"""Migrations: they apply, revert, and agree with the models (no autogenerate diff)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import Result
from flask import Flask

from app import create_app
from app.commands.db import alembic_config
from app.db import Base, get_engine
from tests.kit.database import fresh_database_url


def run(app: Flask, *args: str) -> Result:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def test_upgrade_matches_the_models_then_downgrade_empties(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    app = create_app({"DATABASE_URL": url})
    run(app, "db", "upgrade")
    engine = get_engine(app)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"render_as_batch": True}), Base.metadata
        )
    assert diff == []
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    run(app, "db", "downgrade", "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_every_revision_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    engine = sa.create_engine(url)
    try:
        assert "tenant" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
