"""Macro benchmark: a first render, the scan job it queues, and a cached render.

Starts the emulator with one space of N pages (default 10,000) and the app, both on loopback, installs
the app through the real signed-install lifecycle, then loads the macro the way Confluence does (the
product-signed iframe URL from the emulator's host page), runs the scan job it queued (in this process,
as a worker would), loads the macro again, and prints:

* calls the first render made (none: it shows the scan's progress), and its time;
* list calls the scan job made (pages of 250), against ceil(current pages / 250), and its time;
* calls the second render made within the cache TTL (expected: none), and its time;
* as a baseline measured in the same run, a bare ``requests`` loop that pages through the same list
  with Atlassian's own ``atlassian-jwt`` signing, and the ratios.

Run: ``.venv/bin/python benchmarks/macro.py [--pages N]``. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
import tempfile
import time
from html import unescape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt
import requests
from atlassian_jwt.url_utils import hash_url

from app import create_app
from app.commands.db import upgrade
from app.db import get_engine
from app.jobs.queue import get_queue, run_pending
from emulator.server import create_app as create_emulator
from emulator.state import emulator_state
from tests.kit.live import LiveServer
from tests.kit.processes import free_port


def macro_src(http: requests.Session, emulator_url: str, page_id: int) -> str:
    page = http.get(f"{emulator_url}/wiki/spaces/DOCS/pages/{page_id}", timeout=30).text
    match = re.search(r'<iframe[^>]+src="([^"]+/macros/freshness[^"]+)"', page)
    if not match:
        raise SystemExit("the host page has no macro iframe: is the app installed?")
    return unescape(match.group(1))


def list_calls(http: requests.Session, emulator_url: str) -> tuple[int, int]:
    stats = http.get(f"{emulator_url}/_emulator/stats", timeout=10).json()
    # A space's pages (a scan's list calls), not the viewer checks on /pages?id=
    pages = sum(
        n for route, n in stats["routes"].items() if "/spaces/<" in route and route.endswith("/pages")
    )
    return pages, stats["total"]


def bare_loop(
    http: requests.Session, emulator_url: str, space_id: str, app_key: str, secret: str
) -> tuple[int, float]:
    """Page through the same list with requests and atlassian-jwt only: the floor for a first render."""
    url: str | None = f"{emulator_url}/wiki/api/v2/spaces/{space_id}/pages?limit=250&status=current"
    count = 0
    started = time.perf_counter()
    while url:
        relative = url.removeprefix(emulator_url).removeprefix("/wiki")
        now = int(time.time())
        token = jwt.encode(
            {"iss": app_key, "iat": now, "exp": now + 180, "qsh": hash_url("GET", relative)},
            secret,
            algorithm="HS256",
        )
        response = http.get(url, headers={"Authorization": f"JWT {token}"}, timeout=30)
        response.raise_for_status()
        count += len(response.json()["results"])
        nxt = response.links.get("next", {}).get("url")
        url = f"{emulator_url}{nxt}" if nxt else None
    return count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines among the figures

    emulator_port, app_port = free_port(), free_port()
    emulator_url, app_url = f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{app_port}"
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/bench.db"
        upgrade(database)
        emulator = create_emulator(port=emulator_port, pages=args.pages, seed=1)  # same content every run
        app = create_app(
            {
                "BASE_URL": app_url,
                "DATABASE_URL": database,
                "INSTALL_KEYS_URL": f"{emulator_url}/install-keys",
                "OAUTH_URL": emulator_url,
                "ALL_JS_URL": f"{emulator_url}/atlassian-connect/all.js",
                "ALLOWED_TENANT_HOSTS": ["127.0.0.1"],
                "JOBS_SQLITE_PATH": f"{tmp}/jobs.db",
            }
        )
        servers = [LiveServer(emulator, emulator_port).start(), LiveServer(app, app_port).start()]
        http = requests.Session()
        try:
            installed = http.post(
                f"{emulator_url}/_emulator/apps",
                json={"descriptorUrl": f"{app_url}/atlassian-connect.json"},
                timeout=60,
            )
            installed.raise_for_status()
            site = emulator_state(emulator).site
            space = site.space_by_key("DOCS")
            assert space is not None
            current = sum(1 for i in site.pages_by_space[space.id] if site.content[i].status == "current")

            timings: list[float] = []
            calls: list[tuple[int, int]] = []
            for step in ("first render", "scan job", "cached render"):
                src = macro_src(http, emulator_url, space.homepage_id)
                http.post(f"{emulator_url}/_emulator/stats/reset", timeout=10)
                started = time.perf_counter()
                if step == "scan job":
                    run_pending(get_queue(app))
                else:
                    http.get(src, timeout=300).raise_for_status()
                timings.append(time.perf_counter() - started)
                calls.append(list_calls(http, emulator_url))

            record = emulator_state(emulator).apps.get(app.config["KEY"])
            assert record is not None
            counted, bare = bare_loop(http, emulator_url, str(space.id), record.key, record.shared_secret)
        finally:
            http.close()
            for server in servers:
                server.stop()
            get_engine(app).dispose()

    expected = math.ceil(current / 250)
    print(f"space DOCS: {args.pages:,} pages requested, {current:,} current (the bare loop saw {counted:,})")
    print(f"{'':28}{'list calls':>12}{'all calls':>11}{'expected':>10}{'seconds':>10}")
    rows = [("first render (queues a scan)", 0), ("scan job (worker)", expected), ("cached render", 0)]
    for (label, wanted), (listed, total), seconds in zip(rows, calls, timings, strict=True):
        print(f"{label:28}{listed:>12}{total:>11}{wanted:>10}{seconds:>10.3f}")
    print(f"{'baseline: bare requests loop':28}{expected:>12}{'':>11}{'':>10}{bare:>10.3f}")
    print(
        f"scan job / bare loop: {timings[1] / bare:.2f}x   "
        f"first render / bare loop: {timings[0] / bare:.4f}x   "
        f"cached render / bare loop: {timings[2] / bare:.4f}x"
    )


if __name__ == "__main__":
    main()
