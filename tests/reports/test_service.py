"""The shared report cache: fresh hits make no scan, expired entries are refreshed exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

import app.schema  # noqa: F401
from app.db import Base
from app.errors import ConfluenceServerError
from app.reports.cache import LEASE, RETRY_AFTER_FAILURE, ReportCache
from app.reports.model import FreshnessReport, ReportScope
from app.reports.service import ReportService
from app.tenants.models import Tenant
from tests.kit.database import fresh_database_url

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)
SCOPE = ReportScope("DOCS")


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = sa.create_engine(fresh_database_url(tmp_path))
    Base.metadata.create_all(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        session.add(
            Tenant(
                client_key="t1",
                app_key="a",
                shared_secret="s",
                base_url="https://x/wiki",
                product_type="confluence",
            )
        )
        session.commit()
    yield factory
    engine.dispose()


class Scans:
    """A scan double that counts calls and can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self, scope: ReportScope, now: datetime) -> FreshnessReport:
        self.calls += 1
        if self.fail:
            raise ConfluenceServerError("down")
        return FreshnessReport(scope=scope, computed_at=now, scanned=self.calls, stale=0)


def service(
    sessions: sessionmaker[Session], clock: list[datetime], jobs: list[Callable[[], None]]
) -> ReportService:
    return ReportService(sessions, clock=lambda: clock[0], spawn=jobs.append)


def test_first_render_scans_then_hits_within_the_ttl(sessions: sessionmaker[Session]) -> None:
    clock, jobs, scans = [T0], [], Scans()
    reports = service(sessions, clock, jobs)
    first = reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    clock[0] = T0 + TTL - timedelta(seconds=1)
    second = reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    assert scans.calls == 1 and not first.stale and not second.stale
    assert second.report == first.report and jobs == []


def test_expired_entry_is_served_stale_while_one_refresh_runs(sessions: sessionmaker[Session]) -> None:
    clock, jobs, scans = [T0], [], Scans()
    reports = service(sessions, clock, jobs)
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    clock[0] = T0 + TTL
    views = [reports.get("t1", SCOPE, ttl=TTL, scan=scans) for _ in range(5)]
    assert all(view.stale and view.report.scanned == 1 for view in views)
    assert len(jobs) == 1 and scans.calls == 1  # one refresh queued, nobody waited
    jobs[0]()
    after = reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    assert after.report.scanned == 2 and not after.stale and scans.calls == 2


def test_two_services_sharing_the_database_refresh_once(sessions: sessionmaker[Session]) -> None:
    clock, jobs, scans = [T0], [], Scans()
    processes = [service(sessions, clock, jobs) for _ in range(2)]
    processes[0].get("t1", SCOPE, ttl=TTL, scan=scans)
    assert processes[1].get("t1", SCOPE, ttl=TTL, scan=scans).report.scanned == 1  # a hit in "process 2"
    clock[0] = T0 + TTL + timedelta(seconds=5)
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def view(index: int) -> None:
        barrier.wait(timeout=5)
        results.append(processes[index % 2].get("t1", SCOPE, ttl=TTL, scan=scans).stale)

    threads = [threading.Thread(target=view, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [True] * 4 and len(jobs) == 1


def test_a_stuck_refresher_loses_its_lease(sessions: sessionmaker[Session]) -> None:
    clock, jobs, scans = [T0], [], Scans()
    reports = service(sessions, clock, jobs)
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    clock[0] = T0 + TTL
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)  # takes the lease; the job never runs
    clock[0] = T0 + TTL + LEASE + timedelta(seconds=1)
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    assert len(jobs) == 2


def test_failed_refresh_keeps_the_stale_report_and_backs_off(sessions: sessionmaker[Session]) -> None:
    clock, jobs, scans = [T0], [], Scans()
    reports = service(sessions, clock, jobs)
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    scans.fail = True
    clock[0] = T0 + TTL
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    jobs[0]()
    assert reports.get("t1", SCOPE, ttl=TTL, scan=scans).report.scanned == 1
    assert len(jobs) == 1  # backing off
    clock[0] = T0 + TTL + RETRY_AFTER_FAILURE + timedelta(seconds=1)
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    assert len(jobs) == 2


def test_first_render_failure_propagates_and_caches_nothing(sessions: sessionmaker[Session]) -> None:
    clock, jobs, scans = [T0], [], Scans()
    scans.fail = True
    with pytest.raises(ConfluenceServerError):
        service(sessions, clock, jobs).get("t1", SCOPE, ttl=TTL, scan=scans)
    with sessions() as session:
        assert ReportCache(session).get("t1", SCOPE.cache_key) is None


def test_invalidate_forgets_only_that_tenant(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.add(
            Tenant(
                client_key="t2",
                app_key="a",
                shared_secret="s",
                base_url="https://y/wiki",
                product_type="confluence",
            )
        )
        session.commit()
    clock, jobs, scans = [T0], [], Scans()
    reports = service(sessions, clock, jobs)
    reports.get("t1", SCOPE, ttl=TTL, scan=scans)
    reports.get("t2", SCOPE, ttl=TTL, scan=scans)
    with sessions() as session:
        ReportCache(session).invalidate_tenant("t1")
        assert ReportCache(session).get("t1", SCOPE.cache_key) is None
        assert ReportCache(session).get("t2", SCOPE.cache_key) is not None


def test_a_decoded_report_is_reused_until_another_process_replaces_the_row(
    sessions: sessionmaker[Session],
) -> None:
    scans = Scans()
    with sessions() as writer, sessions() as reader:
        ReportCache(writer).put("t1", scans(SCOPE, T0), now=T0, ttl=TTL)
        first = ReportCache(reader).get("t1", SCOPE.cache_key)
        again = ReportCache(reader).get("t1", SCOPE.cache_key)
        assert first is not None and again is not None and again[0] is first[0]  # decoded once
        ReportCache(writer).put("t1", scans(SCOPE, T0 + TTL), now=T0 + TTL, ttl=TTL)  # "another process"
        newer = ReportCache(reader).get("t1", SCOPE.cache_key)
        assert newer is not None and newer[0].scanned == 2 and newer[1] == T0 + 2 * TTL
