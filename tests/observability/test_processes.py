"""Real processes: gunicorn with two workers and a ``flask worker``, sharing a Redis queue, a database and
a metrics directory, against a live emulator.

* ``/readyz`` turns 503 when the database stops and 200 again when it is back, with no restart, always
  within 2 s; ``/healthz`` stays 200 throughout. The database is a private PostgreSQL cluster this test
  starts on its own port and stops (initdb/pg_ctl); without the server binaries, the suite's PostgreSQL
  (TEST_DATABASE_URL) behind a loopback TCP proxy that is cut and restored; else the test skips.
* ``/metrics`` totals are exactly the requests the test made, added up across both gunicorn workers
  (each of which served some), and include the job worker's scan figures; the worker's JSON log lines
  name the job they belong to.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from tests.kit.database import fresh_database_url
from tests.kit.live_sites import (
    MACRO_MODULE,
    RunningEmulator,
    process_site,
)
from tests.kit.postgres_cluster import private_postgres, unavailable_reason
from tests.kit.processes import BIN, REPO, stop, wait_until_up
from tests.kit.tcp_proxy import TcpProxy

TOKEN = "process-test-metrics-token-0123456789"
DEADLINE = 2.0


@dataclass
class Database:
    url: str
    stop: Callable[[], None]
    start: Callable[[], None]


@contextmanager
def stoppable_database(tmp_path: Path) -> Iterator[Database]:
    reason = unavailable_reason()
    if reason is None:
        with private_postgres() as cluster:
            yield Database(cluster.url, cluster.stop, cluster.start)
        return
    if os.environ.get("TEST_DATABASE_URL"):
        real = make_url(fresh_database_url(tmp_path))
        proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).restore()
        try:
            url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            yield Database(url, proxy.cut, proxy.restore)
        finally:
            proxy.cut()
        return
    pytest.skip(f"no PostgreSQL to stop and start: {reason}, and TEST_DATABASE_URL is not set")


@dataclass
class Deployment:
    url: str
    emulator: RunningEmulator
    metrics_dir: Path
    worker_log: Path

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=headers, timeout=10)

    def scrape(self) -> str:
        response = self.get("/metrics", Authorization=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.text
        return response.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


@contextmanager
def deployment(tmp_path: Path, database_url: str) -> Iterator[Deployment]:
    with ExitStack() as stack:
        metrics_dir = tmp_path / "metrics"
        metrics_dir.mkdir()
        site = stack.enter_context(
            process_site(
                tmp_path,
                database_url,
                pages=600,
                APP_SECRET_KEY="process-test-secret-key",
                APP_METRICS_TOKEN=TOKEN,
                APP_LOG_FORMAT="json",
                PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            )
        )
        emulator, port, app_url, env = site.emulator, site.port, site.app_url, site.env
        web_log = stack.enter_context((tmp_path / "web.log").open("w"))
        worker_log_path = tmp_path / "worker.log"
        worker_log = stack.enter_context(worker_log_path.open("w"))
        command = [str(BIN / "gunicorn"), "-c", str(REPO / "gunicorn.conf.py")]
        command += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "app:create_app()"]
        web = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=web_log, stderr=subprocess.STDOUT, text=True
        )
        worker = subprocess.Popen(
            [str(BIN / "flask"), "--app", "app", "worker", "--workers", "2"],
            cwd=REPO,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until_up(f"{app_url}/atlassian-connect.json", web)
            yield Deployment(app_url, emulator, metrics_dir, worker_log_path)
        finally:
            for process in (web, worker):
                process.terminate()
            for process in (web, worker):
                stop(process)


def probe(app: Deployment, path: str) -> tuple[int, dict[str, object]]:
    started = time.monotonic()
    response = app.get(path)
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE, f"{path} took {elapsed:.2f} s"
    return response.status_code, response.json()


def test_readyz_follows_the_database_down_and_back_without_a_restart(tmp_path: Path) -> None:
    with stoppable_database(tmp_path) as database, deployment(tmp_path, database.url) as app:
        assert probe(app, "/readyz") == (
            200,
            {"status": "ready", "checks": {"database": "ok", "queue": "ok"}},
        )

        database.stop()
        for _ in range(8):  # several probes, so both gunicorn workers answer some
            status, body = probe(app, "/readyz")
            assert status == 503, body
            assert body["checks"] in (
                {"database": "unreachable", "queue": "ok"},
                {"database": "timeout", "queue": "ok"},
            ), body
            assert probe(app, "/healthz") == (200, {"status": "ok"})  # liveness: no restart wanted

        database.start()
        deadline = time.monotonic() + 30
        while probe(app, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "not ready again after the database came back"
            time.sleep(0.2)
        for _ in range(8):
            assert probe(app, "/readyz")[0] == 200


def per_process_healthz_counts(metrics_dir: Path) -> dict[str, float]:
    """Requests to /healthz counted by each process, read from its own file in the metrics directory."""
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        total = 0.0
        for metric in MultiProcessCollector.merge([str(path)], accumulate=True):  # type: ignore[no-untyped-call]
            for s in metric.samples:
                if s.name == "freshness_http_requests_total" and s.labels.get("route") == "/healthz":
                    total += s.value
        if total:
            counts[path.stem] = total
    return counts


def macro_url(app: Deployment) -> str:
    home = requests.get(app.emulator.space_home_url("DOCS"), timeout=10).text
    frames = re.findall(r'<iframe class="ap-iframe" src="([^"]+)"[^>]*?data-ap-module-key="([^"]+)"', home)
    return next(unescape(src) for src, module in frames if module == MACRO_MODULE)


def test_metrics_add_up_both_web_workers_and_the_job_worker(tmp_path: Path) -> None:
    database_url = fresh_database_url(tmp_path)
    with deployment(tmp_path, database_url) as app:
        healthz, missing = 0, 7
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Which sync worker accepts a connection is up to the kernel: send batches (bounded) until
            # both workers have served some, so the totals below really add up two processes.
            for _ in range(10):
                statuses = list(pool.map(lambda _: app.get("/healthz").status_code, range(60)))
                assert statuses == [200] * 60
                healthz += 60
                if len(per_process_healthz_counts(app.metrics_dir)) == 2:
                    break
            statuses = list(pool.map(lambda n: app.get(f"/no/such/{n}").status_code, range(missing)))
        assert statuses == [404] * missing
        assert app.get("/metrics", Authorization="Bearer wrong-token-0123456789abcdef").status_code == 401

        # Each process hands its request counts to the shared files in batches, within 0.05 s
        # (app/observability/request_counts.py): the other worker's reach a scrape that soon.
        deadline = time.monotonic() + 5
        while True:
            text = app.scrape()
            counted = (
                sample(text, "freshness_http_requests_total", method="GET", route="/healthz", status="200"),
                sample(text, "freshness_http_requests_total", method="GET", route="unmatched", status="404"),
                sample(text, "freshness_http_requests_total", method="GET", route="/metrics", status="401"),
            )
            if counted == (healthz, missing, 1) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert (
            sample(text, "freshness_http_requests_total", method="GET", route="/healthz", status="200")
            == healthz
        )
        assert (
            sample(text, "freshness_http_requests_total", method="GET", route="unmatched", status="404")
            == missing
        )
        assert (
            sample(text, "freshness_http_requests_total", method="GET", route="/metrics", status="401") == 1
        )
        assert (
            sample(text, "freshness_http_request_duration_seconds_count", method="GET", route="/healthz")
            == healthz
        )
        by_process = per_process_healthz_counts(app.metrics_dir)
        assert len(by_process) == 2 and sum(by_process.values()) == healthz, by_process  # both workers served

        installed = requests.post(
            f"{app.emulator.url}/_emulator/apps",
            json={"descriptorUrl": f"{app.url}/atlassian-connect.json"},
            timeout=30,
        )
        assert installed.status_code == 201, installed.text
        url = macro_url(app)
        deadline = time.monotonic() + 60
        while 'class="freshness scanning"' in requests.get(url, timeout=10).text:
            assert time.monotonic() < deadline, "the worker did not finish the scan"
            time.sleep(0.25)

        text = app.scrape()
        assert sample(text, "freshness_scan_runs_total", outcome="done") == 1  # counted by the job worker
        assert sample(text, "freshness_scan_jobs_queued_total", trigger="view") == 1
        assert sample(text, "freshness_scan_pages_read_total") >= 1
        assert sample(text, "freshness_tenants", state="active") == 1
        assert sample(text, "freshness_scan_jobs", state="done") == 1
        pages_calls = sample(
            text,
            "freshness_confluence_requests_total",
            endpoint="/wiki/api/v2/spaces/{id}/pages",
            method="GET",
            status="200",
        )
        assert pages_calls == sample(text, "freshness_scan_pages_read_total")
        assert "client_key" not in text and "site-" not in text

    lines = [json.loads(line) for line in app.worker_log.read_text().splitlines() if line.startswith("{")]
    scan_lines = [line for line in lines if line["msg"].startswith("scan job ")]
    assert scan_lines, lines[-5:]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", line["job_id"]) for line in scan_lines), scan_lines
    assert all(re.fullmatch(r"[0-9a-f]{10}", line["tenant"]) for line in scan_lines), scan_lines
