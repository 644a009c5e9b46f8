"""``flask`` commands: ``db`` (migrations), ``tenants``, ``confluence``, ``forge``, ``worker``."""

from __future__ import annotations

import importlib

from flask import Flask

from app.commands.db import db_cli
from app.commands.forge import forge_cli
from app.commands.tenants import tenants_cli
from app.jobs.worker import worker_command


def register_commands(app: Flask) -> None:
    """Attach every command group to the app."""
    app.cli.add_command(db_cli)
    app.cli.add_command(tenants_cli)
    app.cli.add_command(forge_cli)
    app.cli.add_command(worker_command)
    try:
        confluence = importlib.import_module("app.commands.confluence")
    except ImportError:  # the REST client's command lands separately
        return
    app.cli.add_command(confluence.confluence_cli)
