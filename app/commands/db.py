"""``flask db upgrade|downgrade|current``: Alembic migrations against the app's database."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click
from alembic import command
from alembic.config import Config
from flask import current_app
from flask.cli import AppGroup

MIGRATIONS_DIR: Final = Path(__file__).resolve().parents[2] / "migrations"

db_cli = AppGroup("db", help="Apply or inspect database migrations (Alembic).")


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config for our migrations directory and ``database_url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate ``database_url`` up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Upgrade the database to REVISION (default: head)."""
    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database at {revision}.")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    """Downgrade the database to REVISION (default: one step back)."""
    command.downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"Database downgraded to {revision}.")


@db_cli.command("current")
def current_command() -> None:
    """Show the database's current revision."""
    command.current(alembic_config(current_app.config["DATABASE_URL"]), verbose=False)
