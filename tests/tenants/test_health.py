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
from app.tenants.health import HealthRecorder, TenantHealth
from tests.kit.database import session_factory_with_tenants


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    factory = session_factory_with_tenants(tmp_path, ("t1",))
    yield factory
    factory.kw["bind"].dispose()


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
