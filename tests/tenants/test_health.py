"""Installation health: concurrent scans record into one row without colliding."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

import app.schema  # noqa: F401
from app.confluence.events import ClientEvent
from app.db import Base, make_engine
from app.tenants.health import HealthRecorder, TenantHealth
from app.tenants.models import Tenant
from tests.kit.database import fresh_database_url


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_database_url(tmp_path))
    Base.metadata.create_all(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        session.add(
            Tenant(
                client_key="t1", app_key="a", shared_secret="s", base_url="https://t1/wiki", product_type="c"
            )
        )
        session.commit()
    yield factory
    engine.dispose()


def test_concurrent_health_flushes_never_collide(sessions: sessionmaker[Session]) -> None:
    """Eight scans of one tenant ending at once: each flush lands, none fails on the primary key
    (a read-then-insert used to raise IntegrityError here)."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def flush() -> None:
        recorder = HealthRecorder("t1")
        recorder(ClientEvent("GET", "u", 429, 0.1, 0, True, None))
        try:
            barrier.wait(timeout=10)
            with sessions() as session:
                recorder.flush(session)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=flush) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with sessions() as session:
        row = session.get(TenantHealth, "t1")
        assert row is not None and len(json.loads(row.rate_limit_hits)) == 8
