"""``flask db upgrade|downgrade|current|revision``: Alembic migrations against the app's database."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from flask.cli import AppGroup

MIGRATIONS_DIR: Final = Path(__file__).resolve().parents[2] / "migrations"
#: New revision files are named like the existing ones: ``0003_add_scan_jobs.py``.
FILE_TEMPLATE: Final = "%%(rev)s_%%(slug)s"

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


def next_revision_id(cfg: Config) -> str:
    """The id after the newest numbered revision, zero-padded to four digits (``0002`` -> ``0003``)."""
    revisions = [script.revision for script in ScriptDirectory.from_config(cfg).walk_revisions()]
    numbers = [int(revision) for revision in revisions if revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does, in a few words.")
@click.option(
    "--autogenerate",
    is_flag=True,
    help="Fill the migration with the differences between the models and the (up-to-date) database.",
)
def revision_command(message: str, autogenerate: bool) -> None:
    """Write a new migration file in migrations/versions/ (review it before committing)."""
    cfg = alembic_config(current_app.config["DATABASE_URL"])
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    try:
        script = command.revision(
            cfg, message=message, autogenerate=autogenerate, rev_id=next_revision_id(cfg)
        )
    except CommandError as exc:  # e.g. "Target database is not up to date."
        raise click.ClickException(str(exc)) from exc
    if script is None or isinstance(script, list):
        raise click.ClickException("Alembic wrote no single revision")
    click.echo(f"Wrote {script.path}")
