"""Scale benchmark: reports of 1k, 10k and 100k pages with Confluence answering in 200 ms per call.

For each size it starts the emulator (one space of N pages, every REST call delayed by ``--latency-ms``)
in this process, and the app the way production runs it, in processes of its own: gunicorn (2 web
workers) and one ``flask --app app worker`` (2 threads) sharing an SQLite database and the SQLite job
queue. It installs the app through the real signed-install lifecycle, then:

* sends ``--viewers`` concurrent first views of the macro: time to first response, p50 and p95 (each
  must be the progress page: no view waits for the scan);
* polls until the report is ready: time until ready, against a baseline measured in the same run,
  a bare ``requests`` loop paging through the same list with Atlassian's ``atlassian-jwt`` signing
  (the floor for any scan);
* list calls the scan made, against ceil(current pages / 250) (once, whatever the number of viewers);
* the worker process's peak memory (VmHWM), and the ratio 100k / 10k;
* the bytes stored for the report (``report_cache.payload``) and the largest checkpoint written.

Run: ``.venv/bin/python benchmarks/scale.py [--sizes 1000,10000,100000] [--latency-ms 200]``.
It prints figures and ratios; it asserts nothing. About 3 minutes with the defaults (the 100k scan and
its baseline each make 400+ calls at 200 ms).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests
import sqlalchemy as sa
from macro import bare_loop, list_calls, macro_src

from emulator.server import create_app as create_emulator
from emulator.state import emulator_state
from tests.kit.live import LiveServer
from tests.kit.live_sites import app_process_env
from tests.kit.processes import BIN, REPO, flask, free_port, wait_until_up

SCANNING = 'class="freshness scanning"'


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class CheckpointWatcher(threading.Thread):
    """Samples the scan job's checkpoint size while the scan runs (the largest one written)."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(database)
        self.largest = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.engine.connect() as conn:
                    size = conn.execute(sa.text("SELECT max(length(checkpoint)) FROM scan_job")).scalar()
                self.largest = max(self.largest, int(size or 0))
            except sa.exc.OperationalError:  # the table is locked for a moment; try again
                pass
            self.stop.wait(0.2)


def measure(size: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    emulator_port, app_port = free_port(), free_port()
    emulator_url, app_url = f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{app_port}"
    database = f"sqlite:///{tmp}/scale-{size}.db"
    env = app_process_env(app_url, emulator_url, database, APP_JOBS_SQLITE_PATH=f"{tmp}/jobs-{size}.db")
    migrated = flask("db", "upgrade", env=env)
    if migrated.returncode != 0:
        raise SystemExit(migrated.stderr)
    emulator = create_emulator(port=emulator_port, pages=size, seed=1)
    emulator_server = LiveServer(emulator, emulator_port).start()
    processes: list[subprocess.Popen[str]] = []
    http = requests.Session()
    try:
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{app_port}", "--workers", "2", "app:create_app()"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(web)
        wait_until_up(f"{app_url}/atlassian-connect.json", web)
        worker = subprocess.Popen(
            [str(BIN / "flask"), "--app", "app", "worker", "--workers", "2"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(worker)
        http.post(
            f"{emulator_url}/_emulator/apps",
            json={"descriptorUrl": f"{app_url}/atlassian-connect.json"},
            timeout=60,
        ).raise_for_status()
        site = emulator_state(emulator).site
        space = site.space_by_key("DOCS")
        assert space is not None
        current = sum(1 for i in site.pages_by_space[space.id] if site.content[i].status == "current")
        src = macro_src(http, emulator_url, space.homepage_id)
        http.post(f"{emulator_url}/_emulator/faults", json={"latencyMs": args.latency_ms}, timeout=10)
        http.post(f"{emulator_url}/_emulator/stats/reset", timeout=10)
        time.sleep(1.0)  # let the worker settle, so its first poll is not part of the figures

        def first_view(_: int) -> tuple[float, bool]:
            started = time.perf_counter()
            body = requests.get(src, timeout=60).text
            return time.perf_counter() - started, SCANNING in body

        watcher = CheckpointWatcher(database)
        watcher.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.viewers) as pool:
            views = list(pool.map(first_view, range(args.viewers)))
        deadline = started + args.deadline
        while SCANNING in http.get(src, timeout=60).text:
            if time.perf_counter() > deadline:
                raise SystemExit(f"{size}: no report within {args.deadline} s")
            time.sleep(0.5)
        ready = time.perf_counter() - started
        watcher.stop.set()
        watcher.join(timeout=5)
        watcher.engine.dispose()
        listed, _total = list_calls(http, emulator_url)
        peak = peak_rss_kib(worker.pid)
        engine = sa.create_engine(database)
        with engine.connect() as conn:
            stored = int(conn.execute(sa.text("SELECT length(payload) FROM report_cache")).scalar() or 0)
        engine.dispose()

        record = emulator_state(emulator).apps.get("com.example.confluence-freshness")
        assert record is not None
        counted, bare = bare_loop(http, emulator_url, str(space.id), record.key, record.shared_secret)
        times = sorted(t for t, _ in views)
        return {
            "pages": size,
            "current": current,
            "first_p50": statistics.median(times),
            "first_p95": times[max(0, math.ceil(0.95 * len(times)) - 1)],
            "all_progress": all(scanning for _, scanning in views),
            "ready": ready,
            "bare": bare,
            "bare_items": counted,
            "list_calls": listed,
            "expected_calls": math.ceil(current / 250),
            "worker_peak_kib": peak,
            "report_bytes": stored,
            "checkpoint_bytes": watcher.largest,
        }
    finally:
        http.close()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        emulator_server.stop()


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's request log
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds to wait for one report")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            print(f"measuring {size:,} pages at {args.latency_ms} ms per call …", file=sys.stderr, flush=True)
            rows.append(measure(size, args, Path(tmp)))
    header = (
        f"{'pages':>8} {'current':>8} {'1st view p50':>12} {'p95':>7} {'ready s':>8} {'bare s':>7}"
        f" {'ready/bare':>10} {'list calls':>10} {'expected':>8} {'worker peak':>11} {'report':>9}"
        f" {'checkpoint':>10}"
    )
    print(header)
    for r in rows:
        p50, p95 = r["first_p50"] * 1000, r["first_p95"] * 1000
        print(
            f"{r['pages']:>8,} {r['current']:>8,} {p50:>10.0f}ms {p95:>5.0f}ms"
            f" {r['ready']:>8.1f} {r['bare']:>7.1f} {r['ready'] / r['bare']:>9.2f}x {r['list_calls']:>10}"
            f" {r['expected_calls']:>8} {r['worker_peak_kib'] / 1024:>9.1f}MB"
            f" {r['report_bytes'] / 1024:>7.1f}KB {r['checkpoint_bytes'] / 1024:>8.1f}KB"
        )
        if not r["all_progress"]:
            print(f"  note: some first views of {r['pages']:,} pages waited for the report")
    by_size = {r["pages"]: r for r in rows}
    if 10_000 in by_size and 100_000 in by_size:
        ratio = by_size[100_000]["worker_peak_kib"] / by_size[10_000]["worker_peak_kib"]
        print(f"worker peak memory, 100k / 10k pages: {ratio:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
