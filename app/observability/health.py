"""Readiness checks: the database answers and is migrated, the job queue's storage answers.

Each check runs in its own daemon thread and the caller waits at most ``budget`` seconds for all of
them, so ``/readyz`` answers in time even when a dependency accepts connections and never replies.
A check still running from an earlier call is not started again: its result is awaited instead, so a
hung dependency holds at most one thread per check and process, and every check has its own
connect and read timeouts, so that thread ends too.

Results are short fixed words (``ok``, ``unreachable``, ``timeout``, ``migrations pending`` …), never
an error message, a URL or a host name: readiness is public and must reveal nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

#: The longest /readyz waits for its checks (the endpoint must answer within 2 s).
DEFAULT_BUDGET: Final = 1.5
#: Connect and read timeouts of the checks' own connections (PostgreSQL's libpq counts whole seconds,
#: 2 at least), so a thread blocked on a silent server ends shortly after the budget.
CHECK_TIMEOUT: Final = 2

OK: Final = "ok"
Check = Callable[[], str]


class Readiness:
    """Runs named checks concurrently within a time budget; see the module docstring."""

    def __init__(self, checks: Mapping[str, Check], *, budget: float = DEFAULT_BUDGET) -> None:
        self._checks = dict(checks)
        self._budget = budget
        self._running: dict[str, Future[str]] = {}
        self._lock = threading.Lock()

    def _start(self, name: str, check: Check) -> Future[str]:
        future: Future[str] = Future()

        def run() -> None:
            try:
                future.set_result(check())
            except Exception as exc:  # a check's failure is a result, never an error page
                future.set_exception(exc)

        threading.Thread(target=run, name=f"readyz-{name}", daemon=True).start()
        return future

    def run(self) -> dict[str, str]:
        """``{check: "ok" | what failed}`` within the budget."""
        with self._lock:
            futures = {}
            for name, check in self._checks.items():
                running = self._running.get(name)
                if running is None or running.done():
                    running = self._running[name] = self._start(name, check)
                futures[name] = running
        deadline = time.monotonic() + self._budget
        results: dict[str, str] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                results[name] = "timeout"
            except Exception:
                results[name] = "unreachable"
        return results


# ------------------------------------------------------------------------------------------------
# The app's checks
# ------------------------------------------------------------------------------------------------


def migration_heads(migrations_dir: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(head revisions, every known revision) of the migrations this code ships."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    scripts = ScriptDirectory.from_config(cfg)
    known = frozenset(script.revision for script in scripts.walk_revisions())
    return frozenset(scripts.get_heads()), known


def health_engine(url: str) -> sa.Engine:
    """An engine for checks only: no pool (a fresh connection proves the database takes new ones),
    short connect and statement timeouts."""
    connect_args: dict[str, Any]
    if url.startswith("sqlite"):
        connect_args = {"timeout": 1, "check_same_thread": False}
    elif url.startswith("postgresql"):
        connect_args = {
            "connect_timeout": CHECK_TIMEOUT,
            "options": f"-c statement_timeout={CHECK_TIMEOUT * 1000}",
        }
    else:  # pragma: no cover - the app supports SQLite and PostgreSQL
        connect_args = {}
    return sa.create_engine(url, poolclass=NullPool, hide_parameters=True, connect_args=connect_args)


def database_check(engine: sa.Engine, heads: frozenset[str], known: frozenset[str]) -> Check:
    """The database answers, and its Alembic revision is this code's head (or a later one).

    A revision this code does not know was written by a newer release's migration (expand/contract:
    ``db upgrade`` runs before new code starts, while old processes still serve), so old processes stay
    ready. A known revision that is not a head means the migrations have not been run.
    """

    def check() -> str:
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        except sa.exc.ProgrammingError:
            return "not migrated"
        except sa.exc.OperationalError as exc:
            text = str(exc.orig if exc.orig is not None else exc).lower()
            if "no such table" in text:
                return "not migrated"
            return "unreachable"
        except sa.exc.DBAPIError:
            return "unreachable"
        revisions = set(rows)
        if not revisions:
            return "not migrated"
        if revisions <= heads or not revisions <= known:
            return OK
        return "migrations pending"

    return check


def sqlite_queue_check(path: str) -> Check:
    """The queue's SQLite file exists and answers (Huey created its tables when the app started)."""

    def check() -> str:
        if not Path(path).is_file():
            return "unreachable"
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=1)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return "unreachable"
        return OK

    return check


def redis_queue_check(url: str) -> Check:
    """Redis answers PING within the timeouts."""
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT, retry_on_timeout=False
    )

    def check() -> str:
        try:
            return OK if client.ping() else "unreachable"
        except (redis.RedisError, OSError):
            return "unreachable"

    return check
