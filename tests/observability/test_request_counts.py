"""Request counts tallied per thread and handed to prometheus_client in batches
(``app/observability/request_counts.py``): exact totals, the same histogram as observing one by one,
within the delay, at exit, and in a forked granian-like child."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Hashable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram

from app.observability import metrics, request_counts
from app.observability.request_counts import BatchedCounts, apply_to_histogram, bucket_of
from tests.kit.threads import run_interleaved

REPO = Path(__file__).resolve().parents[2]
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BOUNDS = (*BUCKETS, float("inf"))


class Applied:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[Hashable, list[int]] = {}
        self.sums: dict[Hashable, float] = {}

    def __call__(self, key: Hashable, per_bucket: list[int], total: float) -> None:
        with self.lock:
            have = self.counts.setdefault(key, [0] * len(per_bucket))
            for i, n in enumerate(per_bucket):
                have[i] += n
            self.sums[key] = self.sums.get(key, 0.0) + total


def test_counts_reach_prometheus_client_within_the_delay_not_at_once() -> None:
    applied = Applied()
    batches = BatchedCounts(applied, delay=0.05)
    batches.count("a", 1, 3, 0.5)
    batches.count("a", 1, 3, 0.25)
    batches.count("b")
    assert applied.counts == {} and batches.pending() == 3
    deadline = time.monotonic() + 5
    while applied.counts != {"a": [0, 2, 0], "b": [1]} and time.monotonic() < deadline:
        time.sleep(0.005)
    assert applied.counts == {"a": [0, 2, 0], "b": [1]} and applied.sums == {"a": 0.75, "b": 0.0}
    assert batches.pending() == 0


def test_every_count_from_many_threads_is_handed_over_once() -> None:
    applied = Applied()
    batches = BatchedCounts(applied, delay=0.001)
    threads, per_thread = 8, 5_000

    def work(n: int) -> None:
        for i in range(per_thread):
            batches.count(("series", i % 3), n % 2, 2, 1.0)

    run_interleaved([threading.Thread(target=work, args=(n,)) for n in range(threads)])
    batches.flush()
    assert sum(sum(c) for c in applied.counts.values()) == threads * per_thread
    assert sum(applied.sums.values()) == threads * per_thread
    assert sum(c[0] for c in applied.counts.values()) == sum(c[1] for c in applied.counts.values())


@pytest.mark.parametrize("value", [0.0, 0.001, 0.005, 0.0050001, 0.1, 1.0, 29.99, 30.0, 30.01, 1e9, -1.0])
def test_a_batch_makes_the_histogram_observing_one_by_one_makes(value: float) -> None:
    one_by_one = Histogram("h", "h", ["r"], buckets=BUCKETS, registry=CollectorRegistry()).labels("x")
    batched = Histogram("h", "h", ["r"], buckets=BUCKETS, registry=CollectorRegistry()).labels("x")
    assert request_counts.histogram_parts_present(batched, BOUNDS)
    values = [value, value / 2, 0.3, value]
    per_bucket = [0] * len(BOUNDS)
    for v in values:
        one_by_one.observe(v)
        per_bucket[bucket_of(BOUNDS, v)] += 1
    apply_to_histogram(batched, per_bucket, sum(values))

    def samples(child: object) -> list[object]:
        return [s for s in child._samples() if s.name != "_created"]  # type: ignore[attr-defined]

    assert samples(batched) == samples(one_by_one)


def test_a_histogram_without_the_parts_or_with_other_buckets_is_not_batched() -> None:
    other = Histogram("h", "h", ["r"], buckets=(1.0, 2.0), registry=CollectorRegistry()).labels("x")
    assert not request_counts.histogram_parts_present(other, BOUNDS)
    assert not request_counts.histogram_parts_present(object(), BOUNDS)


def test_in_one_process_mode_requests_are_counted_at_once() -> None:
    # Tests and `flask run` count directly: nothing waits in a batch.
    assert not metrics.MULTIPROCESS and metrics._request_batches is None


def _run(script: str, metrics_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _totals(metrics_dir: Path) -> dict[str, float]:
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    totals: dict[str, float] = {}
    for family in registry.collect():
        for s in family.samples:
            if s.labels.get("route") == "/x" and s.labels.get("le") in (None, "0.025"):
                totals[s.name] = totals.get(s.name, 0.0) + s.value
    return totals


def test_in_multiprocess_mode_what_is_tallied_at_exit_reaches_the_files(tmp_path: Path) -> None:
    result = _run(
        """
        from app.observability import metrics
        assert metrics._request_batches is not None  # multiprocess mode: batched
        metrics._request_batches.delay = 60  # the flusher would not get to it
        for _ in range(500):
            metrics.observe_request("/x", "GET", 200, 0.02)
        metrics.hot_path_answer("/x")
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    totals = _totals(tmp_path)
    assert totals["freshness_http_requests_total"] == 500
    assert totals["freshness_http_request_duration_seconds_count"] == 500
    assert totals["freshness_http_request_duration_seconds_bucket"] == 500  # le="0.025"
    assert totals["freshness_http_request_duration_seconds_sum"] == pytest.approx(10.0)
    assert totals["freshness_hot_path_answers_total"] == 1


def test_a_forked_multiprocessing_child_hands_its_own_counts_over_when_it_ends(tmp_path: Path) -> None:
    # A granian worker: a multiprocessing child, which ends without running atexit.
    result = _run(
        """
        import multiprocessing
        from app.observability import metrics

        def child():
            for _ in range(7):
                metrics.observe_request("/x", "GET", 200, 0.02)

        metrics._request_batches.delay = 60
        for _ in range(3):
            metrics.observe_request("/x", "GET", 200, 0.02)  # tallied in the parent when it forks
        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join()
        assert process.exitcode == 0
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # the child's 7 and the parent's 3, each counted once
    assert _totals(tmp_path)["freshness_http_requests_total"] == 10
