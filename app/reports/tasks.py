"""The product's jobs on the app's queue: scans, and a periodic sweep that keeps reports warm.

``init_app`` registers the tasks on the app's Huey instance and puts a :class:`ReportService` (for
web requests) and a :class:`ScanRunner` (for workers) in ``app.extensions``. Web processes and
workers both call ``create_app``, so both know the same task names.

The sweep, every minute (each worker process runs it; every step is idempotent):

* sends again the jobs whose message was lost (a worker killed mid-scan: its lease has ended);
* asks for a fresh scan of every report viewed in the last ``APP_WARM_VIEWED_DAYS`` days that
  expires within ``APP_WARM_AHEAD_SECONDS``, so a regular reader rarely meets a stale report;
* drops reports (and finished jobs) nobody viewed for ``APP_WARM_VIEWED_DAYS`` days.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from huey import crontab

from app.clock import utc_clock
from app.confluence.client import ConfluenceClient
from app.confluence.factory import ClientSettings, client_as_app
from app.jobs.queue import get_queue
from app.observability import metrics
from app.observability.logs import bind_job_tenant, tenant_tag
from app.reports.cache import ReportCache
from app.reports.jobs import ScanJobs
from app.reports.runner import JobSettings, ScanRunner
from app.reports.service import ReportService
from app.tenants.credentials import Credentials
from app.tenants.health import HealthRecorder

log = logging.getLogger(__name__)


def worker_client_settings(config: dict[str, Any] | Any) -> ClientSettings:
    """The client settings for scans: a ``Retry-After`` is never slept through in a worker (the job is
    rescheduled instead), and the few in-place retries of other faults stay short."""
    settings = ClientSettings.from_config(config)
    return replace(
        settings,
        max_retry_after=0.0,
        max_attempts=min(settings.max_attempts, 3),
        max_total_seconds=min(settings.max_total_seconds, 30.0),
    )


def job_settings(config: Any) -> JobSettings:
    return JobSettings(
        lease=timedelta(seconds=float(config["SCAN_LEASE_SECONDS"])),
        checkpoint_pages=int(config["SCAN_CHECKPOINT_PAGES"]),
        max_attempts=int(config["SCAN_MAX_ATTEMPTS"]),
        scans_per_tenant=int(config["SCANS_PER_TENANT"]),
    )


def init_app(app: Flask) -> None:
    """Register the scan task and the sweep; create the report service and the scan runner."""
    queue = get_queue(app)
    sessions = app.extensions["db"]
    client_settings = worker_client_settings(app.config)

    now = utc_clock(app)

    @contextmanager
    def connect(creds: Credentials, recorder: HealthRecorder) -> Iterator[ConfluenceClient]:
        with client_as_app(creds, client_settings, on_event=recorder) as client:
            yield client

    def scan(client_key: str, scope_key: str) -> None:
        bind_job_tenant(client_key)  # this job's log lines name its tenant by tag
        with app.app_context():
            outcome = runner.run(client_key, scope_key)
        log.info("scan job %s for %s: %s", scope_key, tenant_tag(client_key), outcome)

    scan_task: Any = queue.task(name="reports.scan")(scan)

    def send(client_key: str, scope_key: str, delay: float = 0.0) -> None:
        if delay > 0:
            scan_task.schedule((client_key, scope_key), delay=delay)
        else:
            scan_task(client_key, scope_key)

    runner = ScanRunner(
        sessions, clock=now, connect=connect, schedule=send, settings=job_settings(app.config)
    )

    def sweep_now() -> None:
        with app.app_context():
            sweep(app, now(), send)

    queue.periodic_task(crontab(minute="*"), name="reports.sweep")(sweep_now)

    app.extensions["reports"] = ReportService(clock=now, send=send)
    app.extensions["scan_runner"] = runner
    app.extensions["report_sweep"] = sweep_now


def sweep(app: Flask, now: datetime, send: Callable[[str, str], None]) -> dict[str, int]:
    """One pass of housekeeping (see the module docstring); returns what it did, for logs and tests."""
    sessions = app.extensions["db"]
    viewed_days = timedelta(days=int(app.config["WARM_VIEWED_DAYS"]))
    ahead = timedelta(seconds=float(app.config["WARM_AHEAD_SECONDS"]))
    done = {"resent": 0, "warmed": 0, "dropped": 0}
    with sessions() as session:
        jobs = ScanJobs(session)
        for client_key, scope_key in jobs.orphans(now):
            jobs.mark_sent(client_key, scope_key, now)
            send(client_key, scope_key)
            done["resent"] += 1
        cache = ReportCache(session)
        dropped = cache.drop_unviewed(now - viewed_days)
        by_tenant: dict[str, list[str]] = {}
        for client_key, scope_key in dropped:
            by_tenant.setdefault(client_key, []).append(scope_key)
        for client_key, scope_keys in by_tenant.items():
            jobs.delete_scopes(client_key, scope_keys)
        done["dropped"] = len(dropped)
        for client_key, cached in cache.due_for_warming(now, viewed_since=now - viewed_days, ahead=ahead):
            scope = cached.report.scope
            queued, _ = jobs.request(client_key, scope, now=now, total_hint=cached.report.scanned)
            if queued:
                send(client_key, scope.cache_key)
                done["warmed"] += 1
    metrics.scan_queued("resend", done["resent"])
    metrics.scan_queued("warm", done["warmed"])
    if any(done.values()):
        log.info("report sweep: %s", done)
    return done
