"""/healthz and /readyz in one process: what readiness checks, and that it answers in time whatever hangs.

The same endpoints across real gunicorn workers, with a PostgreSQL cluster stopped and started, are in
``test_processes.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.commands.db import upgrade
from app.db import get_engine
from app.observability.health import Readiness
from tests.kit.database import create_schema
from tests.kit.silent_server import silent_server

#: The endpoint must answer within 2 s even when a dependency hangs.
DEADLINE = 2.0


@pytest.fixture
def make(app_overrides: dict[str, Any]) -> Iterator[Any]:
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        made.append(create_app({**app_overrides, **overrides}))
        return made[-1]

    yield build
    for app in made:
        get_engine(app).dispose()
        app.extensions["health_engine"].dispose()


def timed_get(app: Flask, path: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = app.test_client().get(path)
    return response.status_code, response.get_json(), time.monotonic() - started


def test_ready_when_the_database_is_at_the_head_and_the_queue_answers(make: Any, database_url: str) -> None:
    upgrade(database_url)
    status, body, _ = timed_get(make(), "/readyz")
    assert (status, body) == (200, {"status": "ready", "checks": {"database": "ok", "queue": "ok"}})


def test_not_ready_until_migrations_have_run(make: Any, database_url: str) -> None:
    create_schema(database_url)  # tables, but no Alembic revision: nobody ran `flask db upgrade`
    app = make()
    status, body, _ = timed_get(app, "/readyz")
    assert status == 503 and body["checks"]["database"] == "not migrated"

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0002')"))
    status, body, _ = timed_get(app, "/readyz")
    assert status == 503 and body == {
        "status": "unavailable",
        "checks": {"database": "migrations pending", "queue": "ok"},
    }

    # A revision this code does not know: a newer release migrated first (expand/contract); the old
    # processes that still serve must stay in the load balancer.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    assert timed_get(app, "/readyz")[0] == 200
    engine.dispose()


def test_liveness_checks_nothing(make: Any) -> None:
    with silent_server() as port:
        app = make(DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{port}/none")
        status, body, elapsed = timed_get(app, "/healthz")
    assert (status, body) == (200, {"status": "ok"}) and elapsed < 0.5


def test_readiness_answers_in_time_when_the_database_and_redis_hang(make: Any) -> None:
    """A server that accepts and never answers, posing as PostgreSQL and as Redis."""
    with silent_server() as db_port, silent_server() as redis_port:
        app = make(
            DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{db_port}/none",
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        )
        status, body, elapsed = timed_get(app, "/readyz")
        assert elapsed < DEADLINE, elapsed
        assert (status, body) == (
            503,
            {"status": "unavailable", "checks": {"database": "timeout", "queue": "timeout"}},
        )
        for _ in range(3):  # again and again, as a probe would: never slower, never more threads
            status, body, elapsed = timed_get(app, "/readyz")
            assert elapsed < DEADLINE, elapsed
            assert status == 503
            # Still waiting, or the checks' own timeouts ended the attempt: either way, named.
            assert set(body["checks"].values()) <= {"timeout", "unreachable"}, body
            hung = [t for t in threading.enumerate() if t.name.startswith("readyz-")]
            assert len(hung) <= 2, hung


def test_readiness_follows_the_database_down_and_back(make: Any, tmp_path: Path) -> None:
    folder, away = tmp_path / "data", tmp_path / "data-away"
    folder.mkdir()
    url = f"sqlite:///{folder / 'app.db'}"
    upgrade(url)
    app = make(DATABASE_URL=url)
    assert timed_get(app, "/readyz")[0] == 200
    folder.rename(away)
    status, body, _ = timed_get(app, "/readyz")
    assert status == 503 and body["checks"] == {"database": "unreachable", "queue": "ok"}
    away.rename(folder)
    ready = (200, {"status": "ready", "checks": {"database": "ok", "queue": "ok"}})
    assert timed_get(app, "/readyz")[:2] == ready


def test_the_queue_file_gone_is_not_ready(make: Any, database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    app = make(JOBS_SQLITE_PATH=str(tmp_path / "queue" / "jobs.db"))
    assert timed_get(app, "/readyz")[0] == 200
    (tmp_path / "queue" / "jobs.db").rename(tmp_path / "moved.db")
    status, body, _ = timed_get(app, "/readyz")
    assert status == 503 and body["checks"]["queue"] == "unreachable"


def test_a_hung_check_is_awaited_not_started_again() -> None:
    release = threading.Event()
    calls: list[int] = []

    def hangs() -> str:
        calls.append(1)
        release.wait(10)
        return "ok"

    readiness = Readiness({"slow": hangs, "fast": lambda: "ok"}, budget=0.2)
    try:
        assert readiness.run() == {"slow": "timeout", "fast": "ok"}
        assert readiness.run() == {"slow": "timeout", "fast": "ok"}
        assert len(calls) == 1
    finally:
        release.set()
    time.sleep(0.05)
    assert readiness.run() == {"slow": "ok", "fast": "ok"}  # the finished result is taken once...
    assert readiness.run() == {"slow": "ok", "fast": "ok"}
    assert len(calls) == 3  # ...and then the check runs afresh each time


def test_a_failing_check_is_reported_not_raised() -> None:
    def broken() -> str:
        raise RuntimeError("postgresql://user:password@db/x is down")

    assert Readiness({"database": broken}).run() == {"database": "unreachable"}
