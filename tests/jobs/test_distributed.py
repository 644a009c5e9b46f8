"""Real processes: gunicorn web workers and ``flask worker`` processes sharing one Redis queue and one
database (the suite's: SQLite, or PostgreSQL with TEST_DATABASE_URL), against a live emulator.

* 20 concurrent first views of a 5,000-page space answer at once with the progress page, and the
  emulator sees exactly one scan's list calls; then every view shows the same report.
* gunicorn runs with a 2-second worker timeout while the scan takes longer: nothing is killed.
* A worker killed with SIGKILL mid-scan is taken over by another, which resumes from the checkpoint.
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import IO

import requests
import sqlalchemy as sa

from tests.kit.confluence import scan_list_calls
from tests.kit.database import fresh_database_url
from tests.kit.live_sites import (
    MACRO_MODULE,
    RunningEmulator,
    process_site,
)
from tests.kit.processes import BIN, REPO, stop, wait_until_up

PAGES = 5000
SCANNING = 'class="freshness scanning"'
#: Bound on waiting for a scan to finish.
SCAN_DEADLINE = 90.0


@dataclass
class Deployment:
    emulator: RunningEmulator
    app_url: str
    database_url: str
    env: dict[str, str]
    stack: ExitStack
    workers: list[subprocess.Popen[str]]
    log: IO[str]

    def start_worker(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [str(BIN / "flask"), "--app", "app", "worker", "--workers", "2"],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.workers.append(process)
        return process

    def macro_url(self) -> str:
        """The macro iframe's URL, signed by the emulator's host page (as a browser would load it)."""
        home = requests.get(self.emulator.space_home_url("DOCS"), timeout=10).text
        frames = re.findall(
            r'<iframe class="ap-iframe" src="([^"]+)"[^>]*?data-ap-module-key="([^"]+)"', home
        )
        url = next(unescape(src) for src, module in frames if module == MACRO_MODULE)
        assert url.startswith(self.app_url), url
        return url

    def list_calls(self) -> int:
        return scan_list_calls(self.emulator.url)

    def job(self) -> dict[str, object]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                row = (
                    conn.execute(sa.text("SELECT state, pages_read, resumes FROM scan_job"))
                    .mappings()
                    .first()
                )
                return dict(row) if row is not None else {}
        finally:
            engine.dispose()


def current_docs_pages(emulator: RunningEmulator) -> int:
    site = emulator.state.site
    space = site.space_by_key("DOCS")
    assert space is not None
    return sum(1 for pid in site.pages_by_space[space.id] if site.content[pid].status == "current")


@contextmanager
def deployment(
    tmp_path: Path, *, workers: int, timeout: int = 30, **app_env_extra: str
) -> Iterator[Deployment]:
    with ExitStack() as stack:
        database_url = fresh_database_url(tmp_path)
        site = stack.enter_context(process_site(tmp_path, database_url, pages=PAGES, **app_env_extra))
        emulator, port, app_url, env = site.emulator, site.port, site.app_url, site.env
        web = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                str(timeout),
                "app:create_app()",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        log = stack.enter_context((tmp_path / "processes.log").open("w"))
        found = Deployment(emulator, app_url, database_url, env, stack, [], log)
        try:
            wait_until_up(f"{app_url}/atlassian-connect.json", web)
            for _ in range(workers):
                found.start_worker()
            installed = requests.post(
                f"{emulator.url}/_emulator/apps",
                json={"descriptorUrl": f"{app_url}/atlassian-connect.json"},
                timeout=30,
            )
            assert installed.status_code == 201, installed.text
            yield found
        finally:
            for process in [web, *found.workers]:
                if process.poll() is None:
                    process.terminate()
            for process in [web, *found.workers]:
                stop(process)


def wait_for_report(url: str) -> str:
    deadline = time.monotonic() + SCAN_DEADLINE
    while time.monotonic() < deadline:
        body = requests.get(url, timeout=10).text
        if SCANNING not in body:
            return body
        time.sleep(0.25)
    raise AssertionError(f"no report within {SCAN_DEADLINE} s")


def figure(body: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]+)<', body)
    assert match, f"no {testid} in the page"
    return match.group(1)


def test_twenty_concurrent_first_views_make_one_scan_across_processes(tmp_path: Path) -> None:
    with deployment(tmp_path, workers=2, timeout=2) as app:
        url = app.macro_url()
        requests.post(f"{app.emulator.url}/_emulator/stats/reset", timeout=10).raise_for_status()
        app.emulator.set_faults(latencyMs=150)

        def view(_: int) -> tuple[float, int, str]:
            started = time.monotonic()
            response = requests.get(url, timeout=10)
            return time.monotonic() - started, response.status_code, response.text

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=20) as pool:
            views = list(pool.map(view, range(20)))
        assert all(status == 200 for _, status, _ in views)
        assert all(SCANNING in body for _, _, body in views), "every first view shows the progress page"
        slowest = max(elapsed for elapsed, _, _ in views)
        assert slowest < 1.0, f"slowest first view took {slowest:.2f} s"

        first = wait_for_report(url)
        scan_seconds = time.monotonic() - started
        # The scan outlived gunicorn's 2-second worker timeout: it never ran in a web worker.
        assert scan_seconds > 2.0, scan_seconds
        expected = math.ceil(current_docs_pages(app.emulator) / 250)
        assert app.list_calls() == expected, "one scan: one list call per 250 current pages"
        assert int(figure(first, "scanned").replace(",", "")) == current_docs_pages(app.emulator)

        app.emulator.set_faults(latencyMs=0)
        with ThreadPoolExecutor(max_workers=20) as pool:
            after = list(pool.map(view, range(20)))
        rows = {re.findall(r'<tr class="is-[a-z]+">[\s\S]*?</tr>', body).__repr__() for _, _, body in after}
        scanned = {figure(body, "scanned") for _, _, body in after}
        assert len(rows) == 1 and len(scanned) == 1, "every process shows the same report"
        assert app.list_calls() == expected, "no view after the report made another scan"
        assert app.job()["state"] == "done"


def test_a_worker_killed_mid_scan_is_resumed_from_its_checkpoint(tmp_path: Path) -> None:
    with deployment(tmp_path, workers=1, APP_SCAN_LEASE_SECONDS="5", APP_SCAN_CHECKPOINT_PAGES="2") as app:
        url = app.macro_url()
        requests.post(f"{app.emulator.url}/_emulator/stats/reset", timeout=10).raise_for_status()
        app.emulator.set_faults(latencyMs=250)
        assert SCANNING in requests.get(url, timeout=10).text
        deadline = time.monotonic() + 60
        while int(app.job().get("pages_read") or 0) < 7:  # type: ignore[call-overload]
            assert time.monotonic() < deadline, "the scan did not get going"
            time.sleep(0.05)
        app.workers[0].send_signal(signal.SIGKILL)
        app.workers[0].wait(timeout=10)
        calls_before_kill = app.list_calls()
        assert app.job()["state"] == "running"  # as the dead worker left it

        app.start_worker()
        body = wait_for_report(url)  # the polls notice the dead lease and send the job again
        full_scan = math.ceil(current_docs_pages(app.emulator) / 250)
        total = app.list_calls()
        assert int(figure(body, "scanned").replace(",", "")) == current_docs_pages(app.emulator)
        assert total < calls_before_kill + full_scan, (total, calls_before_kill, full_scan)
        assert total <= full_scan + 2  # at most the pages read after the last checkpoint, again
        job = app.job()
        assert job["state"] == "done" and job["resumes"] == 1
