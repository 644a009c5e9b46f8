"""The database: one engine per app, one session per app context, and the declarative base."""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app import local_copies
from app.contexts import active_app, context_globals

#: Stable constraint names, so that Alembic migrations name constraints the same on every database.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets a busy timeout so concurrent writers wait instead of failing."""
    # hide_parameters: a failed INSERT must not write a shared secret into a log line.
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    return sa.create_engine(url, **kwargs)


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory and close sessions at the end of each context."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    local_copies.configure(engine, app.config["HOT_CACHE_SECONDS"])
    app.extensions["db"] = sessionmaker(bind=engine, expire_on_commit=False)
    idle = app.extensions["db_idle"] = _IdleSession()
    app.teardown_appcontext(functools.partial(_close_session, idle))


def insert_ignoring_conflicts(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """INSERT a row unless one with the same key exists (one atomic statement); True if inserted.

    ``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike: concurrent callers never get
    an IntegrityError, and exactly one of them inserts. Does not commit.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(model).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(model).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - the app supports SQLite and PostgreSQL
        raise NotImplementedError(f"no conflict-free insert for {dialect}")
    # RETURNING, not rowcount: psycopg reports no row count for a conflict-free INSERT through
    # SQLAlchemy, while a returned row is unambiguous on both databases.
    return session.execute(statement.returning(sa.literal(1))).first() is not None


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime from a column value: SQLite returns naive datetimes even for
    timezone-aware columns, and every datetime this app stores is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _IdleSession(threading.local):
    """Per thread: the session the thread's last app context closed, for its next one.

    A closed session is as good as a new one (SQLAlchemy resets it on ``close()``), and making one
    costs about as much as a warm request's whole tenant lookup.
    """

    session: Session | None = None


def get_session() -> Session:
    """Return this app context's session, opening it on first use."""
    found_globals = context_globals()  # one lookup through the proxy, not four
    found: Session | None = getattr(found_globals, "db_session", None)
    if found is None:
        extensions = active_app().extensions
        idle: _IdleSession = extensions["db_idle"]
        found = idle.session
        if found is None:
            found = extensions["db"]()
        else:
            idle.session = None
        found_globals.db_session = found
    return found


def get_engine(app: Flask) -> sa.Engine:
    """Return the engine the app's sessions are bound to."""
    factory: sessionmaker[Session] = app.extensions["db"]
    bind = factory.kw["bind"]
    assert isinstance(bind, sa.Engine)
    return bind


def _close_session(idle: _IdleSession, _exc: BaseException | None) -> None:
    """Teardown: close the context's session (if it began or holds anything) and keep it for the
    thread's next context."""
    session: Session | None = context_globals().pop("db_session", None)
    if session is None:
        return
    # A session that began nothing and holds nothing has nothing to close (the hot path's).
    if session.in_transaction() or session.identity_map or session.new or session.deleted:
        session.close()
    idle.session = session
