"""Reports as jobs: views never scan, one job per scope, checkpoints, pauses, back-off, the sweep."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

import app.schema  # noqa: F401
from app.confluence.pagination import ResultPage
from app.db import get_engine
from app.errors import ConfluenceForbiddenError, ConfluenceRateLimitedError, ConfluenceServerError
from app.reports.cache import ReportCache
from app.reports.jobs import RETRY_FAILED_AFTER, ScanJob, ScanJobs, TenantThrottle
from app.reports.model import FreshnessReport, ReportScope
from app.reports.runner import JobSettings, ScanRunner
from app.reports.service import ReportService
from app.tenants.credentials import Credentials
from app.tenants.health import HealthRecorder
from tests.kit.database import session_factory_with_tenants

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCOPE = ReportScope("DOCS")
PAGE = 250


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    factory = session_factory_with_tenants(tmp_path, ("t1", "t2"))
    yield factory
    factory.kw["bind"].dispose()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeSpace:
    """A space of ``items`` pages served 250 a page; faults can be armed for a given page number."""

    def __init__(self, items: int) -> None:
        self.items = items
        self.calls: list[int] = []  # page numbers requested
        self.faults: dict[int, Exception] = {}
        self.stop_after: int | None = None  # raise KeyboardInterrupt-like "kill" after this many pages

    def iter_spaces(self, *, keys: list[str]) -> Iterator[dict[str, Any]]:
        yield {"id": "9", "key": "DOCS", "name": "Docs"}

    def iter_pages_of(
        self, path: str, params: dict[str, str] | None = None, *, resume_url: str | None = None
    ) -> Iterator[ResultPage]:
        number = int(resume_url.rsplit("=", 1)[1]) if resume_url else 0
        pages = -(-self.items // PAGE)
        while number < pages:
            if self.stop_after is not None and len(self.calls) >= self.stop_after:
                raise Killed()
            fault = self.faults.pop(number, None)
            if fault is not None:
                raise fault
            self.calls.append(number)
            start = number * PAGE
            results = [
                {
                    "id": str(i),
                    "title": f"Page {i}",
                    "status": "current",
                    "version": {"createdAt": (T0 - timedelta(days=i % 400)).isoformat(), "number": 1},
                }
                for i in range(start, min(start + PAGE, self.items))
            ]
            number += 1
            yield ResultPage(
                results,
                f"https://t1.atlassian.net/wiki/api/v2/next?cursor={number}" if number < pages else None,
            )

    def __enter__(self) -> FakeSpace:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Killed(BaseException):
    """A worker dying mid-scan (SIGKILL): nothing after it runs, not even ``except Exception``."""


class Harness:
    """A report service and a scan runner on one database, with a recorded queue."""

    def __init__(self, sessions: sessionmaker[Session], space: FakeSpace, **settings: Any) -> None:
        self.sessions = sessions
        self.space = space
        self.clock = Clock()
        self.sent: list[tuple[str, str, float]] = []
        self.service = ReportService(clock=self.clock, send=lambda c, s: self.sent.append((c, s, 0.0)))

        @contextmanager
        def connect(creds: Credentials, recorder: HealthRecorder) -> Iterator[Any]:
            yield space

        self.runner = ScanRunner(
            sessions,
            clock=self.clock,
            connect=connect,
            schedule=lambda c, s, delay: self.sent.append((c, s, delay)),
            settings=JobSettings(checkpoint_pages=2, **settings),
        )

    def view(self, client_key: str = "t1", scope: ReportScope = SCOPE) -> Any:
        with self.sessions() as session:
            return self.service.view(session, client_key, scope)

    def job(self, client_key: str = "t1", scope: ReportScope = SCOPE) -> ScanJob:
        with self.sessions() as session:
            job = ScanJobs(session).get(client_key, scope.cache_key)
            assert job is not None
            return job

    def run(self, client_key: str = "t1", scope: ReportScope = SCOPE) -> str:
        return self.runner.run(client_key, scope.cache_key)


def test_a_view_never_scans_and_queues_one_job(sessions: sessionmaker[Session]) -> None:
    h = Harness(sessions, FakeSpace(600))
    first = h.view()
    assert first.report is None and first.job is not None and first.job.state == "queued"
    assert h.space.calls == [] and h.sent == [("t1", SCOPE.cache_key, 0.0)]
    assert [h.view().job.state for _ in range(3)] == ["queued"] * 3 and len(h.sent) == 1
    assert h.run() == "done"
    assert h.space.calls == [0, 1, 2]
    done = h.view()
    assert done.report is not None and done.report.scanned == 600 and done.job is None


def test_twenty_concurrent_first_views_from_two_processes_send_one_job(
    sessions: sessionmaker[Session],
) -> None:
    h = Harness(sessions, FakeSpace(10))
    other = ReportService(clock=h.clock, send=lambda c, s: h.sent.append((c, s, 0.0)))
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def view(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            with sessions() as session:
                (h.service if index % 2 else other).view(session, "t1", SCOPE)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=view, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(h.sent) == 1


def test_an_expired_report_is_served_while_one_refresh_is_queued(sessions: sessionmaker[Session]) -> None:
    h = Harness(sessions, FakeSpace(300))
    h.view()
    h.run()
    h.clock.now = T0 + timedelta(hours=2)  # default TTL is 60 minutes
    views = [h.view() for _ in range(4)]
    assert all(v.report is not None and v.report.scanned == 300 and v.refreshing for v in views)
    assert len(h.sent) == 2  # the first scan and one refresh
    assert h.job().total_hint == 300  # the progress bar knows the size from the last report


def test_a_killed_worker_is_resumed_from_its_checkpoint(sessions: sessionmaker[Session]) -> None:
    space = FakeSpace(10 * PAGE)
    h = Harness(sessions, space)
    h.view()
    space.stop_after = 5
    with pytest.raises(Killed):
        h.run()
    job = h.job()
    assert job.state == "running" and job.checkpoint is not None
    assert json.loads(job.checkpoint)["pages_read"] == 4  # checkpoints every 2 pages
    assert h.run() == "dropped"  # the lease still holds: nobody else may take it
    h.clock.now = T0 + h.runner.settings.lease + timedelta(seconds=1)
    assert len(h.sent) == 1
    h.view()  # a viewer (or the status poll) notices the dead lease and sends the job again
    assert h.sent[-1] == ("t1", SCOPE.cache_key, 0.0) and len(h.sent) == 2
    h.view()
    assert len(h.sent) == 2  # once
    space.stop_after = None
    assert h.run() == "done"
    assert space.calls == [0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9]  # 11 calls, not 5 + 10
    report = h.view().report
    assert report is not None and report.scanned == 10 * PAGE and h.job().resumes == 1


def test_a_rate_limit_pauses_the_tenant_and_reschedules_instead_of_sleeping(
    sessions: sessionmaker[Session],
) -> None:
    space = FakeSpace(5 * PAGE)
    h = Harness(sessions, space)
    other = ReportScope("DOCS", stale_days=30)
    h.view()
    h.view(scope=other)
    space.faults[3] = ConfluenceRateLimitedError("slow down", retry_after=40.0)
    assert h.run() == "postponed"
    assert h.sent[-1] == ("t1", SCOPE.cache_key, 40.0)
    job = h.job()
    assert job.state == "queued" and "slow down" in (job.message or "") and job.checkpoint is not None
    with sessions() as session:
        pause = session.get(TenantThrottle, "t1")
        assert pause is not None
    # Every scan of the tenant waits: the other scope is deferred until the pause ends.
    assert h.run(scope=other) == "deferred" and h.sent[-1][2] == pytest.approx(40.0)
    h.clock.now = T0 + timedelta(seconds=41)
    assert h.run() == "done"
    assert space.calls == [0, 1, 2, 3, 4]  # the pause stored where it stopped: no page is read twice


def test_transient_faults_back_off_then_fail_keeping_the_old_report(sessions: sessionmaker[Session]) -> None:
    space = FakeSpace(PAGE)
    h = Harness(sessions, space, max_attempts=3)
    h.view()
    h.run()
    h.clock.now = T0 + timedelta(hours=2)
    h.view()
    delays = []
    for attempt in range(3):
        h.clock.now += timedelta(minutes=10 if attempt else 0)  # each retry runs when it is due
        space.faults[0] = ConfluenceServerError("boom")
        outcome = h.run()
        delays.append(h.sent[-1][2])
    assert outcome == "failed" and delays[:2] == [5.0, 10.0]
    view = h.view()
    assert view.report is not None and view.report.scanned == PAGE  # the previous report stays
    assert view.job is not None and view.job.state == "failed"
    assert view.job.message == "We could not get an answer from Confluence."


def test_a_failed_first_scan_is_shown_and_retried_only_after_a_pause(sessions: sessionmaker[Session]) -> None:
    space = FakeSpace(PAGE)
    h = Harness(sessions, space)
    h.view()
    space.faults[0] = ConfluenceForbiddenError("no", url="https://t1.atlassian.net/wiki/api/v2/x")
    assert h.run() == "failed"
    view = h.view()
    assert view.report is None and view.job is not None and view.job.state == "failed"
    assert "not allowed" in (view.job.message or "") and len(h.sent) == 1
    h.clock.now = T0 + RETRY_FAILED_AFTER + timedelta(seconds=1)
    assert h.view().job.state == "queued" and len(h.sent) == 2


def test_only_so_many_scans_of_one_tenant_run_at_once(sessions: sessionmaker[Session]) -> None:
    h = Harness(sessions, FakeSpace(PAGE))
    scopes = [ReportScope("DOCS", stale_days=d) for d in (10, 20)]
    for scope in scopes:
        h.view(scope=scope)
    with sessions() as session:
        jobs = ScanJobs(session)
        lease = timedelta(minutes=2)
        first = jobs.claim("t1", scopes[0].cache_key, owner="a", now=T0, lease=lease, limit=1)
        second = jobs.claim("t1", scopes[1].cache_key, owner="b", now=T0, lease=lease, limit=1)
        assert first.won and not second.won and second.retry_in == 2.0
        h.view(client_key="t2", scope=scopes[1])
        assert jobs.claim(
            "t2", scopes[1].cache_key, owner="c", now=T0, lease=lease, limit=1
        ).won  # other tenants run
        assert jobs.claim("t1", scopes[1].cache_key, owner="b", now=T0, lease=lease, limit=2).won


def test_a_worker_that_lost_its_lease_stops_without_writing(sessions: sessionmaker[Session]) -> None:
    space = FakeSpace(4 * PAGE)
    h = Harness(sessions, space)
    h.view()
    original = space.iter_pages_of

    def steal_then_serve(*args: Any, **kwargs: Any) -> Iterator[ResultPage]:
        with sessions() as session:  # another worker takes the job over (say, after a long GC pause)
            session.execute(sa.update(ScanJob).values(owner="thief"))
            session.commit()
        return original(*args, **kwargs)

    space.iter_pages_of = steal_then_serve  # type: ignore[method-assign]
    assert h.run() == "lost"
    assert space.calls == [0] and h.job().owner == "thief"


def test_the_sweep_resends_lost_jobs_warms_viewed_reports_and_drops_unviewed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from app import create_app

    flask_app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sessions.kw["bind"].url.render_as_string(hide_password=False),
            "JOBS_SQLITE_PATH": str(tmp_path / "jobs.db"),
            "SECRET_KEY": "k",
        }
    )
    try:
        check_sweep(flask_app, sessions)
    finally:
        get_engine(flask_app).dispose()  # no connection left for the garbage collector


def check_sweep(flask_app: Any, sessions: sessionmaker[Session]) -> None:
    from app.reports.tasks import sweep

    h = Harness(sessions, FakeSpace(PAGE))
    viewed, unviewed, lost = (ReportScope("DOCS", stale_days=d) for d in (10, 20, 30))
    for scope in (viewed, unviewed):
        h.view(scope=scope)
        h.run(scope=scope)
    h.view(scope=lost)  # its message is never picked up
    h.clock.now = T0 + timedelta(days=8)
    h.view(scope=viewed)  # expired: a refresh is queued at once
    h.run(scope=viewed)
    sent: list[tuple[str, str]] = []
    h.clock.now = T0 + timedelta(days=8, minutes=58)  # the refreshed report expires in 2 minutes
    done = sweep(flask_app, h.clock.now, lambda c, s: sent.append((c, s)))
    # 'unviewed' was last viewed on day 0, more than WARM_VIEWED_DAYS (7) ago.
    assert done == {"resent": 1, "warmed": 1, "dropped": 1}
    assert set(sent) == {("t1", lost.cache_key), ("t1", viewed.cache_key)}
    with sessions() as session:
        assert ReportCache(session).get("t1", unviewed.cache_key) is None
        assert ScanJobs(session).get("t1", unviewed.cache_key) is None
        assert ReportCache(session).get("t1", viewed.cache_key) is not None


def test_invalidate_forgets_only_that_tenant(sessions: sessionmaker[Session]) -> None:
    report = FreshnessReport(scope=SCOPE, computed_at=T0, scanned=1, stale=0)
    with sessions() as session:
        cache = ReportCache(session)
        cache.put("t1", report, now=T0, ttl=timedelta(minutes=10))
        cache.put("t2", report, now=T0, ttl=timedelta(minutes=10))
        cache.invalidate_tenant("t1")
        assert cache.get("t1", SCOPE.cache_key) is None
        assert cache.get("t2", SCOPE.cache_key) is not None


def test_a_decoded_report_is_reused_until_another_process_replaces_the_row(
    sessions: sessionmaker[Session],
) -> None:
    ttl = timedelta(minutes=10)
    with sessions() as writer, sessions() as reader:
        ReportCache(writer).put("t1", FreshnessReport(SCOPE, T0, 1, 0), now=T0, ttl=ttl)
        first = ReportCache(reader).get("t1", SCOPE.cache_key)
        again = ReportCache(reader).get("t1", SCOPE.cache_key)
        assert first is not None and again is not None and again.report is first.report  # decoded once
        ReportCache(writer).put("t1", FreshnessReport(SCOPE, T0 + ttl, 2, 0), now=T0 + ttl, ttl=ttl)
        newer = ReportCache(reader).get("t1", SCOPE.cache_key)
        assert newer is not None and newer.report.scanned == 2 and newer.expires_at == T0 + 2 * ttl
