"""Prometheus metrics: what the app counts, and how a scrape adds up every process of a machine.

Label values never grow with tenants or URLs: routes are Flask's URL rules, Confluence endpoints are
path templates with ids replaced (and at most :data:`MAX_ENDPOINTS` of them), reasons, outcomes and
states are small fixed sets. No clientKey, page id, space key or query string is ever a label.

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set before the process starts (gunicorn.conf.py
sets one for its workers when it is unset), every process writes its counts to files there and a
scrape of any of them reads all the files (prometheus_client's multiprocess mode). Gauges of things
that live in the database (installed tenants, scan jobs by state) are computed at scrape time by
:class:`DatabaseCollector`, so they are right however many processes there are.

No Flask here: the product code (``app/reports``) and the client's event hook call the helpers below.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app.confluence.events import ClientEvent
from app.errors import (
    ConnectAuthError,
    InstallKeyError,
    InvalidTokenError,
    MissingTokenError,
    QshMismatchError,
    TokenExpiredError,
    UnknownIssuerError,
)
from app.observability import request_counts
from app.observability.flush_soon import track

log = logging.getLogger(__name__)

#: Decided once, when this module (and so prometheus_client) is imported: the library picks its value
#: store at import time, so setting the variable later would not switch modes.
MULTIPROCESS: Final = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SCAN_BUCKETS: Final = (0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
_WAIT_BUCKETS: Final = (1, 2, 5, 10, 30, 60, 120, 300, 600, 3600)

HTTP_REQUESTS: Final = Counter(
    "freshness_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY: Final = Histogram(
    "freshness_http_request_duration_seconds",
    "Time to answer a request, by route template.",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
HOT_PATH_ANSWERS: Final = Counter(
    "freshness_hot_path_answers_total",
    "Requests answered by the hot path (app/hot_path.py) instead of Flask's request cycle, by route.",
    ["route"],
)
JWT_REFUSALS: Final = Counter(
    "freshness_jwt_refusals_total", "Inbound Connect JWTs refused, by reason.", ["reason"]
)
CONFLUENCE_REQUESTS: Final = Counter(
    "freshness_confluence_requests_total",
    "HTTP attempts to Confluence (retries included), by endpoint template, method and status "
    "('none': no answer).",
    ["endpoint", "method", "status"],
)
CONFLUENCE_LATENCY: Final = Histogram(
    "freshness_confluence_request_duration_seconds",
    "Time of one attempt to Confluence, by endpoint.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS,
)
CONFLUENCE_RETRIES: Final = Counter(
    "freshness_confluence_retries_total",
    "Attempts to Confluence that were retries, by endpoint.",
    ["endpoint"],
)
CONFLUENCE_RATE_LIMITED: Final = Counter(
    "freshness_confluence_rate_limited_total",
    "Answers from Confluence asking us to slow down (429, or 503 with Retry-After), by endpoint.",
    ["endpoint"],
)
CONFLUENCE_RETRY_AFTER: Final = Histogram(
    "freshness_confluence_retry_after_seconds",
    "The waits Confluence asked for in Retry-After (a web request sleeps them up to "
    "APP_CONFLUENCE_MAX_RETRY_AFTER; a scan pauses its tenant instead).",
    buckets=_WAIT_BUCKETS,
)
SCANS_QUEUED: Final = Counter(
    "freshness_scan_jobs_queued_total",
    "Scan jobs queued, by trigger (view: a viewer found the report missing or expired; warm: the "
    "sweep refreshes a read report; resend: the sweep re-sends a lost message).",
    ["trigger"],
)
SCAN_RUNS: Final = Counter(
    "freshness_scan_runs_total",
    "Scan job runs in workers, by outcome (done: report stored; failed: given up; postponed: paused "
    "by a rate limit or backing off a fault; deferred: tenant at its scan limit; dropped: nothing to "
    "do; lost: another worker took the job over).",
    ["outcome"],
)
SCAN_DURATION: Final = Histogram(
    "freshness_scan_run_duration_seconds",
    "Wall time of one scan job run in a worker, by outcome.",
    ["outcome"],
    buckets=_SCAN_BUCKETS,
)
SCAN_PAGES: Final = Counter(
    "freshness_scan_pages_read_total", "Pages of results (up to 250 items each) read by scans."
)
SCAN_PAUSES: Final = Counter(
    "freshness_scan_pauses_total", "Scans paused because Confluence asked us to wait (Retry-After)."
)
SCAN_PAUSED_SECONDS: Final = Counter(
    "freshness_scan_paused_seconds_total", "Seconds of Retry-After pauses that scans were given."
)
REPORT_CACHE: Final = Counter(
    "freshness_report_cache_total",
    "Report cache lookups by a view, by result (hit: fresh; stale: expired, served while a scan "
    "refreshes it; miss: no report yet).",
    ["result"],
)

REFUSAL_REASONS: Final = (
    "missing",
    "malformed",
    "bad_signature",
    "wrong_algorithm",
    "wrong_audience",
    "expired",
    "not_yet_valid",
    "qsh_mismatch",
    "unknown_issuer",
    "install_key",
    "invalid",
)
SCAN_OUTCOMES: Final = ("done", "failed", "postponed", "deferred", "dropped", "lost")
CACHE_RESULTS: Final = ("hit", "stale", "miss")
QUEUE_TRIGGERS: Final = ("view", "warm", "resend")
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Every fixed label value shows up at 0 from the first scrape, so rate() and alerts see a series
# before the first event instead of a gap.
for _reason in REFUSAL_REASONS:
    JWT_REFUSALS.labels(_reason)
for _outcome in SCAN_OUTCOMES:
    SCAN_RUNS.labels(_outcome)
for _result in CACHE_RESULTS:
    REPORT_CACHE.labels(_result)
for _trigger in QUEUE_TRIGGERS:
    SCANS_QUEUED.labels(_trigger)


# ------------------------------------------------------------------------------------------------
# Helpers the app calls
# ------------------------------------------------------------------------------------------------


#: The request series by (route, method as sent, status): ``labels()`` validates and locks on every
#: call, a dict lookup does not. Bounded, since a client chooses the method it sends.
_request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_MAX_REQUEST_SERIES: Final = 4096


def _request_series_of(route: str, method: str, status: int) -> tuple[Any, Any]:
    key = (route, method, status)
    series = _request_series.get(key)
    if series is None:
        label = method if method in _METHODS else "other"
        series = (HTTP_REQUESTS.labels(route, label, str(status)), HTTP_LATENCY.labels(route, label))
        if _request_batches is not None and not request_counts.histogram_parts_present(
            series[1], _LATENCY_BOUNDS
        ):
            _stop_batching()  # a prometheus_client whose histograms a batch cannot be handed to
        if len(_request_series) < _MAX_REQUEST_SERIES:
            _request_series[key] = series
    return series


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    series = _request_series_of(route, method, status)
    batches = _request_batches
    if batches is not None and seconds == seconds:  # not NaN: it has a bucket
        bucket = request_counts.bucket_of(_LATENCY_BOUNDS, seconds)
        batches.count(("request", *series), bucket, len(_LATENCY_BOUNDS), seconds)
        return
    series[0].inc()
    series[1].observe(seconds)


_hot_answers: dict[str, Any] = {}


def hot_path_answer(route: str) -> None:
    """Count a request the hot path answered (``route``: a hot route's rule, a handful per app)."""
    series = _hot_answers.get(route)
    if series is None:
        series = _hot_answers.setdefault(route, HOT_PATH_ANSWERS.labels(route))
    batches = _request_batches
    if batches is not None:
        batches.count(("hot", series))
        return
    series.inc()


#: The latency histogram's bucket bounds as prometheus_client keeps them (+Inf last).
_LATENCY_BOUNDS: Final = (*_LATENCY_BUCKETS, float("inf"))


def _apply_request_batch(key: Any, per_bucket: list[int], total: float) -> None:
    """Hand a batch of one series' counts to prometheus_client (``request_counts``)."""
    if key[0] == "hot":
        key[1].inc(per_bucket[0])
        return
    _, counter, histogram = key
    counter.inc(sum(per_bucket))
    request_counts.apply_to_histogram(histogram, per_bucket, total)


#: Batches in multiprocess mode, where each ``inc`` is a locked write to a shared file; else None.
_request_batches: request_counts.BatchedCounts | None = (
    track(request_counts.BatchedCounts(_apply_request_batch)) if MULTIPROCESS else None
)


def _stop_batching() -> None:
    global _request_batches
    batches, _request_batches = _request_batches, None
    if batches is not None:
        batches.flush()


def flush_request_counts() -> None:
    """Hand this process's tallied request counts to prometheus_client (before a scrape of it)."""
    if _request_batches is not None:
        _request_batches.flush()


def refusal_reason(error: ConnectAuthError) -> str:
    """The fixed reason label for a refused inbound token (never the error's free text)."""
    if isinstance(error, MissingTokenError):
        return "missing"
    if isinstance(error, TokenExpiredError):
        return "expired"
    if isinstance(error, QshMismatchError):
        return "qsh_mismatch"
    if isinstance(error, UnknownIssuerError):
        return "unknown_issuer"
    if isinstance(error, InstallKeyError):
        return "install_key"
    if isinstance(error, InvalidTokenError):
        reason = error.reason
        if "signature" in reason:
            return "bad_signature"
        if "malformed" in reason or "empty or too large" in reason or "token in the query" in reason:
            return "malformed"
        if "tokens are accepted" in reason or "signed with" in reason:
            return "wrong_algorithm"
        if "(aud)" in reason:
            return "wrong_audience"
        if "future" in reason or "not valid yet" in reason:
            return "not_yet_valid"
    return "invalid"


def count_refusal(error: ConnectAuthError) -> None:
    JWT_REFUSALS.labels(refusal_reason(error)).inc()


#: Path segments kept as they are: lowercase words (``spaces``, ``blogposts``), perhaps ending in one
#: digit (``v2``, ``oauth2``), and camelCase words (``byOperation``). Anything else (ids, keys,
#: cursors, account ids) becomes ``{id}``.
_WORD: Final = re.compile(r"^(?:[a-z][a-z_-]{0,39}\d?|[a-z]+(?:[A-Z][a-z]+){1,4})$")
#: The most distinct endpoint templates counted; later ones are counted as ``other``.
MAX_ENDPOINTS: Final = 100
_endpoints: set[str] = set()
_endpoints_lock = threading.Lock()


def endpoint_template(url: str) -> str:
    """The path of ``url`` with ids replaced, without host or query.

    ``https://x.atlassian.net/wiki/api/v2/spaces/123/pages?cursor=…`` -> ``/wiki/api/v2/spaces/{id}/pages``
    """
    try:
        path = urlsplit(url).path or "/"
    except ValueError:
        return "other"
    template = "/".join(
        segment if not segment or _WORD.match(segment) else "{id}" for segment in path.split("/")
    )
    with _endpoints_lock:
        if template in _endpoints:
            return template
        if len(_endpoints) >= MAX_ENDPOINTS:
            return "other"
        _endpoints.add(template)
    return template


def observe_confluence(event: ClientEvent) -> None:
    """The process-wide client hook (``observe_every_client``): count one attempt."""
    endpoint = endpoint_template(event.url)
    method = event.method if event.method in _METHODS else "other"
    status = str(event.status) if event.status is not None else "none"
    CONFLUENCE_REQUESTS.labels(endpoint, method, status).inc()
    CONFLUENCE_LATENCY.labels(endpoint).observe(max(0.0, event.elapsed))
    if event.retry > 0:
        CONFLUENCE_RETRIES.labels(endpoint).inc()
    if event.rate_limited:
        CONFLUENCE_RATE_LIMITED.labels(endpoint).inc()
        if event.retry_after is not None:
            CONFLUENCE_RETRY_AFTER.observe(max(0.0, event.retry_after))


def scan_queued(trigger: str, count: int = 1) -> None:
    if count > 0:
        SCANS_QUEUED.labels(trigger if trigger in QUEUE_TRIGGERS else "view").inc(count)


def scan_finished(outcome: str, seconds: float) -> None:
    outcome = outcome if outcome in SCAN_OUTCOMES else "failed"
    SCAN_RUNS.labels(outcome).inc()
    SCAN_DURATION.labels(outcome).observe(max(0.0, seconds))


def scan_page_read() -> None:
    SCAN_PAGES.inc()


def scan_paused(seconds: float) -> None:
    SCAN_PAUSES.inc()
    SCAN_PAUSED_SECONDS.inc(max(0.0, seconds))


_cache_results: Final = {result: REPORT_CACHE.labels(result) for result in CACHE_RESULTS}


def cache_lookup(result: str) -> None:
    _cache_results[result].inc()


# ------------------------------------------------------------------------------------------------
# Scrape
# ------------------------------------------------------------------------------------------------

#: ``(state, count)`` rows; the collector's source, so it can be tested without a database.
Rows = Iterable[tuple[str, int]]


class DatabaseCollector(Collector):
    """Gauges computed from the database at scrape time (right whatever the number of processes).

    ``read`` returns ``{"tenants": rows, "scan_jobs": rows, "oldest_queued": datetime | None}``;
    if it fails (the database is down), the scrape still answers, with ``freshness_database_up 0``.
    """

    def __init__(self, read: Callable[[], dict[str, object]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "freshness_database_up", "Whether the database answered this scrape's queries (1) or not (0)."
        )
        try:
            found = self._read()
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        tenants = GaugeMetricFamily(
            "freshness_tenants",
            "Sites by installation state (active: installed and enabled).",
            labels=["state"],
        )
        counts = dict.fromkeys(("active", "disabled", "uninstalled"), 0)
        for state, count in found.get("tenants", []):  # type: ignore[attr-defined]
            counts[state] = counts.get(state, 0) + int(count)
        for state, count in counts.items():
            tenants.add_metric([state], count)
        yield tenants
        jobs = GaugeMetricFamily("freshness_scan_jobs", "Scan jobs by state.", labels=["state"])
        job_counts = dict.fromkeys(("queued", "running", "done", "failed"), 0)
        for state, count in found.get("scan_jobs", []):  # type: ignore[attr-defined]
            if state in job_counts:
                job_counts[state] += int(count)
        for state, count in job_counts.items():
            jobs.add_metric([state], count)
        yield jobs
        oldest = found.get("oldest_queued")
        age = GaugeMetricFamily(
            "freshness_scan_oldest_queued_seconds",
            "Age of the oldest queued scan job that is due (0 when none waits).",
        )
        if isinstance(oldest, datetime):
            stamp = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
            age.add_metric([], max(0.0, (datetime.now(UTC) - stamp).total_seconds()))
        else:
            age.add_metric([], 0.0)
        yield age


def exposition(extra: Collector | None = None) -> bytes:
    """The text a scrape returns: this machine's processes (or this process), plus ``extra``."""
    flush_request_counts()
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if extra is not None:
        scrape_time = CollectorRegistry()
        scrape_time.register(extra)
        body += generate_latest(scrape_time)
    return body
