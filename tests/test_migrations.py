"""Migrations: they apply, revert, and agree with the models (no autogenerate diff)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import Result
from flask import Flask

import app.commands.db
from app import create_app
from app.commands.db import MIGRATIONS_DIR, alembic_config
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


def _function_body(module: ast.Module, name: str) -> list[ast.stmt]:
    functions = [node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == name]
    assert len(functions) == 1, name
    return functions[0].body


def test_autogenerate_on_an_up_to_date_database_writes_an_empty_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Work on a copy of migrations/, so the revision written lands outside the repository.
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(app.commands.db, "MIGRATIONS_DIR", migrations)
    before = set((MIGRATIONS_DIR / "versions").iterdir())
    url = fresh_database_url(tmp_path)
    flask_app = create_app({"DATABASE_URL": url})
    run(flask_app, "db", "upgrade")
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None and head.isdigit()

    result = run(flask_app, "db", "revision", "--autogenerate", "-m", "Nothing to change")
    get_engine(flask_app).dispose()

    expected_id = f"{int(head) + 1:04d}"
    written = migrations / "versions" / f"{expected_id}_nothing_to_change.py"
    assert result.output.splitlines()[-1] == f"Wrote {written}"
    module = ast.parse(written.read_text(encoding="utf-8"))
    assigned = {
        target.id: ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert assigned["revision"] == expected_id and assigned["down_revision"] == head
    for function in ("upgrade", "downgrade"):
        assert [type(statement) for statement in _function_body(module, function)] == [ast.Pass], function
    assert set((MIGRATIONS_DIR / "versions").iterdir()) == before


def test_autogenerate_refuses_a_database_behind_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(app.commands.db, "MIGRATIONS_DIR", migrations)
    flask_app = create_app({"DATABASE_URL": fresh_database_url(tmp_path)})
    result = flask_app.test_cli_runner().invoke(args=["db", "revision", "--autogenerate", "-m", "too early"])
    get_engine(flask_app).dispose()
    assert result.exit_code == 1
    assert "not up to date" in result.output
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == sorted(
        p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")
    )
