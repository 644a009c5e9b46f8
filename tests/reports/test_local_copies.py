"""This process's short-lived copies of settings, report versions and health (app/local_copies.py).

Another process is played by a second engine on the same database, which writes behind this
process's back; this process's own writes go through its own engine and evict at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from app import local_copies
from app.reports.cache import ReportCache
from app.reports.jobs import ScanJob
from app.reports.model import FreshnessReport, ReportScope
from app.reports.service import ReportService
from app.reports.settings import ReportSettings, TenantSettingsRow, load_settings, save_settings
from app.tenants.health import load_health
from tests.kit.database import session_factory_with_tenants

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCOPE = ReportScope("DOCS")
TTL = timedelta(minutes=30)


@pytest.fixture
def ours(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """This process: copies kept 60 s (long enough not to expire during a test)."""
    factory = session_factory_with_tenants(tmp_path, ("t1",))
    local_copies.configure(factory.kw["bind"], 60.0)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def theirs(ours: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """Another process on the same database (its own engine: nothing it writes evicts our copies)."""
    engine = sa.create_engine(ours.kw["bind"].url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def test_an_engine_never_configured_keeps_nothing(ours: sessionmaker[Session]) -> None:
    engine = sa.create_engine(ours.kw["bind"].url)
    with Session(engine) as session:
        kept = local_copies.copies(session, "anything")
        kept.put("k", 1)
        assert kept.get("k") is None
    engine.dispose()


def test_settings_copies_serve_the_hot_path_and_this_process_evicts_its_own_saves(
    ours: sessionmaker[Session], theirs: sessionmaker[Session]
) -> None:
    with ours() as session:
        assert load_settings(session, "t1", recent_ok=True) == ReportSettings()
    with theirs() as other:
        save_settings(other, "t1", ReportSettings(stale_days=30), updated_by=None)
    with ours() as session:
        assert load_settings(session, "t1", recent_ok=True).stale_days != 30  # the copy, by design
        assert load_settings(session, "t1").stale_days == 30  # everyone else reads the database
        save_settings(session, "t1", ReportSettings(stale_days=45), updated_by=None)
        assert load_settings(session, "t1", recent_ok=True).stale_days == 45  # evicted at once
        assert session.get(TenantSettingsRow, "t1") is not None


def put_report(factory: sessionmaker[Session], computed_at: datetime, scanned: int) -> None:
    with factory() as session:
        ReportCache(session).put(
            "t1", FreshnessReport(SCOPE, computed_at, scanned, 0), now=computed_at, ttl=TTL
        )


def test_report_versions_are_copied_for_the_hot_path_only(
    ours: sessionmaker[Session], theirs: sessionmaker[Session]
) -> None:
    put_report(ours, T0, 1)
    with ours() as session:
        assert ReportCache(session).get("t1", SCOPE.cache_key, recent_ok=True).report.scanned == 1
    put_report(theirs, T0 + timedelta(minutes=1), 2)
    with ours() as session:
        cache = ReportCache(session)
        assert cache.get("t1", SCOPE.cache_key, recent_ok=True).report.scanned == 1
        assert cache.get("t1", SCOPE.cache_key).report.scanned == 2
        # Reading afresh replaced the copy: the hot path now sees the new version too.
        assert cache.get("t1", SCOPE.cache_key, recent_ok=True).report.scanned == 2
    put_report(ours, T0 + timedelta(minutes=2), 3)  # our own write evicts at once
    with ours() as session:
        assert ReportCache(session).get("t1", SCOPE.cache_key, recent_ok=True).report.scanned == 3


def test_a_missing_report_is_not_copied(ours: sessionmaker[Session], theirs: sessionmaker[Session]) -> None:
    with ours() as session:
        assert ReportCache(session).get("t1", SCOPE.cache_key, recent_ok=True) is None
    put_report(theirs, T0, 1)
    with ours() as session:
        assert ReportCache(session).get("t1", SCOPE.cache_key, recent_ok=True) is not None


def test_a_copy_saying_expired_is_checked_against_the_database_before_a_scan_is_queued(
    ours: sessionmaker[Session], theirs: sessionmaker[Session]
) -> None:
    """A worker elsewhere has just refreshed the report: the stale copy must not queue a second scan."""
    put_report(ours, T0, 1)
    sent: list[tuple[str, str]] = []
    later = T0 + TTL + timedelta(minutes=1)  # the first report has expired by then
    service = ReportService(clock=lambda: later, send=lambda key, scope: sent.append((key, scope)))
    with ours() as session:
        assert ReportCache(session).get("t1", SCOPE.cache_key, recent_ok=True) is not None  # copied
    put_report(theirs, later, 2)  # refreshed elsewhere, after the copy was made
    with ours() as session:
        view = service.view(session, "t1", SCOPE)
        assert view.report is not None and view.report.scanned == 2
        assert view.job is None and sent == []
        assert session.scalar(sa.select(sa.func.count()).select_from(ScanJob)) == 0


def test_health_copies_are_evicted_by_this_process_s_own_recorder(ours: sessionmaker[Session]) -> None:
    from app.tenants.health import HealthRecorder

    with ours() as session:
        assert load_health(session, "t1", recent_ok=True).last_success_at is None
        recorder = HealthRecorder("t1")
        recorder(type("Ok", (), {"ok": True, "status": 200, "error": None, "rate_limited": False})())
        recorder.flush(session)
        assert load_health(session, "t1", recent_ok=True).last_success_at is not None


def test_a_hot_cache_of_zero_seconds_keeps_no_copy(tmp_path: Path) -> None:
    factory = session_factory_with_tenants(tmp_path, ("t1",))
    local_copies.configure(factory.kw["bind"], 0.0)
    try:
        with factory() as session:
            assert load_settings(session, "t1", recent_ok=True) == ReportSettings()
            assert len(local_copies.copies(session, "tenant_settings")) == 0  # read, not kept
    finally:
        factory.kw["bind"].dispose()
