"""Run one scan job in a worker: claim it, read pages with checkpoints, store the report.

No Flask and no queue here: the caller passes a session factory, a clock, a function that builds a
Confluence client for a tenant, and ``schedule`` (send the job's message again after a delay).

* A 429 (or a 503 with ``Retry-After``) pauses the tenant's scans and gives the job back to the
  queue for after that time: a worker never sleeps through a rate limit.
* Other transient faults (5xx, no answer) postpone the job with a capped exponential back-off, up to
  ``max_attempts`` faults in a row; then it fails.
* Anything else (no access, no such space, an unreadable answer, a bug) fails the job at once.
A failed job leaves the previous report in the cache; viewers see the job's message.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy.orm import Session

from app.confluence.client import ConfluenceClient
from app.errors import (
    AppError,
    ConfluenceError,
    ConfluenceForbiddenError,
    ConfluenceNotFoundError,
    ConfluenceRateLimitedError,
    ConfluenceServerError,
    ConfluenceTransportError,
    ConfluenceUnauthorizedError,
)
from app.observability import metrics
from app.observability.logs import tenant_tag
from app.reports.cache import ReportCache
from app.reports.jobs import ScanJobs, scope_of
from app.reports.model import FreshnessReport
from app.reports.scan import ScanState
from app.reports.settings import load_settings
from app.tenants.credentials import Credentials
from app.tenants.health import HealthRecorder
from app.tenants.store import TenantStore

log = logging.getLogger(__name__)

Outcome = Literal["done", "postponed", "failed", "deferred", "dropped", "lost"]
Connect = Callable[[Credentials, HealthRecorder], AbstractContextManager[ConfluenceClient]]
Schedule = Callable[[str, str, float], None]

#: A 429 without ``Retry-After`` pauses the tenant this long.
DEFAULT_PAUSE_SECONDS: Final = 30.0


@dataclass(frozen=True)
class JobSettings:
    """How scans run; ``from_config`` reads the ``SCAN_*`` settings."""

    lease: timedelta = timedelta(seconds=120)
    checkpoint_pages: int = 4
    checkpoint_seconds: float = 15.0
    max_attempts: int = 5
    scans_per_tenant: int = 1
    backoff_base: float = 5.0
    backoff_cap: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th fault in a row (1-based), doubling up to the cap."""
        return float(min(self.backoff_cap, self.backoff_base * 2 ** max(0, min(attempt - 1, 20))))


def describe_failure(error: BaseException) -> str:
    """What a viewer is told about a failed scan: short, no URL, no secret."""
    if isinstance(error, ConfluenceRateLimitedError):
        return "Confluence asked us to slow down."
    if isinstance(error, ConfluenceUnauthorizedError | ConfluenceForbiddenError):
        return "This app is not allowed to read this content. Ask an administrator to check its access."
    if isinstance(error, ConfluenceNotFoundError):
        return error.message if error.url is None else "The space or page was not found."
    if isinstance(error, ConfluenceServerError | ConfluenceTransportError):
        return "We could not get an answer from Confluence."
    if isinstance(error, ConfluenceError):
        return "Confluence sent an answer we could not read."
    return "The scan failed unexpectedly. It will be tried again later."


def new_owner() -> str:
    """A token naming this attempt: host, process and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class ScanRunner:
    """Executes scan jobs; one instance per worker process, safe to share between its threads."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        clock: Callable[[], datetime],
        connect: Connect,
        schedule: Schedule,
        settings: JobSettings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self._connect = connect
        self._schedule = schedule
        self.settings = settings
        self._monotonic = monotonic
        #: Called with the session, the tenant and a finished scan's report before it is stored; returns
        #: the report to store (``app/reports/webhook_tasks.py`` re-applies newer webhook changes).
        self.reconcile: Callable[[Session, str, FreshnessReport], FreshnessReport] | None = None

    def run(self, client_key: str, scope_key: str) -> Outcome:
        """Claim and run the job (tenant, scope) if it is due; say what happened (and count it)."""
        started = self._monotonic()
        outcome: Outcome = "failed"
        try:
            outcome = self._run(client_key, scope_key)
            return outcome
        finally:
            metrics.scan_finished(outcome, self._monotonic() - started)

    def _run(self, client_key: str, scope_key: str) -> Outcome:
        owner = new_owner()
        with self._sessions() as session:
            jobs = ScanJobs(session)
            claim = jobs.claim(
                client_key,
                scope_key,
                owner=owner,
                now=self._clock(),
                lease=self.settings.lease,
                limit=self.settings.scans_per_tenant,
            )
            if not claim.won or claim.job is None:
                if claim.retry_in is None:
                    return "dropped"
                self._schedule(client_key, scope_key, claim.retry_in)
                return "deferred"
            job = claim.job
            tenant = TenantStore(session).get_installed(client_key)
            if tenant is None or not tenant.enabled:
                jobs.fail(
                    client_key,
                    scope_key,
                    owner=owner,
                    now=self._clock(),
                    message="The app is not active here.",
                )
                return "failed"
            creds = Credentials.of(tenant)
            ttl = timedelta(minutes=load_settings(session, client_key).cache_ttl_minutes)
            scope = scope_of(job)
            if job.checkpoint:
                state = ScanState.from_json(scope, json.loads(job.checkpoint))
                log.info(
                    "resuming scan %s for %s at page %d", scope_key, tenant_tag(client_key), state.pages_read
                )
            else:
                state = ScanState(scope, self._clock())
            attempts = job.attempts

        recorder = HealthRecorder(client_key)
        try:
            outcome = self._read(creds, recorder, state, owner)
            if outcome == "lost":
                return "lost"
            report = state.finish()
        except ConfluenceRateLimitedError as exc:
            return self._pause(client_key, scope_key, owner, state, exc)
        except (ConfluenceServerError, ConfluenceTransportError) as exc:
            return self._back_off(client_key, scope_key, owner, state, attempts + 1, exc)
        except Exception as exc:  # a worker must survive any job; the trace is for us, not viewers
            log.warning(
                "scan %s for %s failed: %s",
                scope_key,
                tenant_tag(client_key),
                exc.message if isinstance(exc, AppError) else type(exc).__name__,
                exc_info=not isinstance(exc, AppError),
            )
            with self._sessions() as session:
                ScanJobs(session).fail(
                    client_key, scope_key, owner=owner, now=self._clock(), message=describe_failure(exc)
                )
            return "failed"
        finally:
            with self._sessions() as session:
                recorder.flush(session)
        return self._store(client_key, scope_key, owner, report, ttl)

    def _read(self, creds: Credentials, recorder: HealthRecorder, state: ScanState, owner: str) -> Outcome:
        """Read the remaining pages, recording progress on each and a checkpoint every few."""
        key = (creds.client_key, state.scope.cache_key)
        last_pages, last_time = state.pages_read, self._monotonic()
        with self._connect(creds, recorder) as client:
            for page in state.pages(client):
                state.add(page)
                metrics.scan_page_read()
                # A root-page scope's checkpoint holds the whole tree read so far: space them out
                # geometrically so the bytes written stay proportional to the space's size.
                every = self.settings.checkpoint_pages
                if state.tree is not None:
                    every = max(every, state.pages_read // 4)
                due = state.pages_read - last_pages >= every or (
                    self._monotonic() - last_time >= self.settings.checkpoint_seconds
                )
                with self._sessions() as session:
                    ours = ScanJobs(session).progress(
                        *key,
                        owner=owner,
                        now=self._clock(),
                        lease=self.settings.lease,
                        items_read=state.items_read,
                        pages_read=state.pages_read,
                        checkpoint=state.to_json() if due and page.next_url else None,
                    )
                if not ours:
                    log.warning("scan %s for %s was taken over; stopping", key[1], tenant_tag(key[0]))
                    return "lost"
                if due:
                    last_pages, last_time = state.pages_read, self._monotonic()
        return "done"

    def _store(
        self, client_key: str, scope_key: str, owner: str, report: FreshnessReport, ttl: timedelta
    ) -> Outcome:
        with self._sessions() as session:
            now = self._clock()
            if self.reconcile is not None:
                report = self.reconcile(session, client_key, report)
            ReportCache(session).put(client_key, report, now=now, ttl=ttl)
            ScanJobs(session).finish(client_key, scope_key, owner=owner, now=now)
            session.commit()
        log.info("scan %s for %s done: %d items", scope_key, tenant_tag(client_key), report.scanned)
        return "done"

    def _pause(
        self, client_key: str, scope_key: str, owner: str, state: ScanState, exc: ConfluenceRateLimitedError
    ) -> Outcome:
        # At least a second: "Retry-After: 0" repeated would otherwise spin a worker.
        wait = max(1.0, exc.retry_after if exc.retry_after is not None else DEFAULT_PAUSE_SECONDS)
        until = self._clock() + timedelta(seconds=wait)
        with self._sessions() as session:
            jobs = ScanJobs(session)
            jobs.pause_tenant(client_key, until)
            ours = jobs.postpone(
                client_key,
                scope_key,
                owner=owner,
                until=until,
                message=f"Confluence asked us to slow down; the scan goes on in {max(1, round(wait))} s.",
                checkpoint=state.to_json() if state.pages_read else None,
                count_attempt=False,
            )
        if not ours:
            return "lost"
        metrics.scan_paused(wait)
        log.info("scan %s for %s paused %.0f s by Confluence", scope_key, tenant_tag(client_key), wait)
        self._schedule(client_key, scope_key, wait)
        return "postponed"

    def _back_off(
        self,
        client_key: str,
        scope_key: str,
        owner: str,
        state: ScanState,
        attempt: int,
        exc: ConfluenceError,
    ) -> Outcome:
        with self._sessions() as session:
            jobs = ScanJobs(session)
            if attempt >= self.settings.max_attempts:
                log.warning(
                    "scan %s for %s failed after %d faults: %s",
                    scope_key,
                    tenant_tag(client_key),
                    attempt,
                    exc.message,
                )
                jobs.fail(
                    client_key, scope_key, owner=owner, now=self._clock(), message=describe_failure(exc)
                )
                return "failed"
            delay = self.settings.backoff(attempt)
            ours = jobs.postpone(
                client_key,
                scope_key,
                owner=owner,
                until=self._clock() + timedelta(seconds=delay),
                message="Confluence did not answer; trying again shortly.",
                checkpoint=state.to_json() if state.pages_read else None,
                count_attempt=True,
            )
        if not ours:
            return "lost"
        self._schedule(client_key, scope_key, delay)
        return "postponed"
