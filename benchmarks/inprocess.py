"""CPU per request in-process: the app called as a WSGI server calls it, no server, best of N rounds.

What a request costs the app itself, without an HTTP server's own overhead: the figure to compare
before and after a change to the request path. Each request's WSGI environ is built before the timed
rounds (as a server would hand it over) and the app is called with a copy of it; request lines are
written to the null device. Starts the emulator (one space of ``--pages`` pages) on loopback in this
process, installs the app through the real signed install (shared secrets sealed at
rest, as in production), fills the report cache with one scan, then, for each scenario, runs
``--rounds`` rounds of ``--requests`` requests through the test client, each with its own pre-signed
URL, and prints the best round's CPU time per request (``time.thread_time``: this thread only, so the
idle emulator's threads do not count):

* ``macro``: ``/macros/freshness`` with a product-signed URL, warm (report cached, viewer checked);
* ``macro-no-memo``: the same with the render memo off (every page rendered by Jinja);
* ``admin``: ``/admin/freshness`` (site-admin answer cached);
* ``bad-qsh``: the macro URL with a token whose qsh names another query: 401;
* ``descriptor``: ``GET /atlassian-connect.json``.

Run: ``.venv/bin/python benchmarks/inprocess.py [--rounds 7] [--requests 200]``. It asserts nothing.

Under valgrind (``benchmarks/instructions.py`` runs it so), with ``INPROCESS_CALLGRIND_LIB`` naming a
library of two functions that start and stop callgrind's collection, it also counts the instructions
of one more round of each scenario: a figure that, unlike CPU time on a shared machine, does not move
from one run to the next.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jwt
import requests
from atlassian_jwt.url_utils import hash_url
from cryptography.fernet import Fernet
from vs_ace import BenchError, emulator_macro_path
from werkzeug.test import EnvironBuilder

from app import create_app
from app.commands.db import upgrade
from app.db import get_engine
from app.jobs.queue import get_queue, run_pending
from app.page_memo import RenderMemo
from emulator.people import ADMIN_ACCOUNT_ID as ADMIN_ACCOUNT  # the emulator's Ada Admin
from emulator.server import create_app as create_emulator
from emulator.state import emulator_state
from tests.kit.live import LiveServer
from tests.kit.processes import free_port


def product_token(client_key: str, secret: str, path: str, *, bad_qsh: bool = False) -> str:
    now = int(time.time())
    qsh = hash_url("GET", "/macro?pageId=1" if bad_qsh else path)
    claims = {"iss": client_key, "sub": ADMIN_ACCOUNT, "iat": now, "exp": now + 600, "qsh": qsh}
    return jwt.encode(claims, secret, algorithm="HS256")


class NoMemo(RenderMemo):
    """Renders every page: what the macro costs without the memo."""

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> bytes:
        return render().encode()


def round_cpu_ms(get: Callable[[str], int], urls: list[str], expected: int) -> float:
    """CPU time per request of one pass over ``urls`` (each checked for its status)."""
    started = time.thread_time()
    for url in urls:
        status = get(url)
        if status != expected:
            raise SystemExit(f"GET {url[:80]}… answered {status}, not {expected}")
    return (time.thread_time() - started) / len(urls) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", help="also print a cProfile of one round of this scenario")
    parser.add_argument("--profile-sort", choices=("cumulative", "tottime"), default="cumulative")
    parser.add_argument("--only", help="measure only this scenario (say, under a sampling profiler)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    callgrind_lib = os.environ.get("INPROCESS_CALLGRIND_LIB")
    callgrind = ctypes.CDLL(callgrind_lib) if callgrind_lib else None

    emulator_port, app_port = free_port(), free_port()
    emulator_url, app_url = f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{app_port}"
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/bench.db"
        upgrade(database)
        emulator = create_emulator(port=emulator_port, pages=args.pages, seed=1)
        app = create_app(
            {
                "BASE_URL": app_url,
                "DATABASE_URL": database,
                "INSTALL_KEYS_URL": f"{emulator_url}/install-keys",
                "OAUTH_URL": emulator_url,
                "ALL_JS_URL": f"{emulator_url}/atlassian-connect/all.js",
                "ALLOWED_TENANT_HOSTS": ["127.0.0.1"],
                "JOBS_SQLITE_PATH": f"{tmp}/jobs.db",
                "SECRETS_KEYS": Fernet.generate_key().decode(),
                # under valgrind a round takes seconds: keep the hot copies for all of it
                **({"HOT_CACHE_SECONDS": 10} if callgrind else {}),
            }
        )
        # Request lines are written, as a server's are, to the request's wsgi.errors: here the null device.
        null_stream = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
        servers = [LiveServer(emulator, emulator_port).start(), LiveServer(app, app_port).start()]
        try:
            requests.post(
                f"{emulator_url}/_emulator/apps",
                json={"descriptorUrl": f"{app_url}/atlassian-connect.json"},
                timeout=60,
            ).raise_for_status()
            state = emulator_state(emulator)
            space = state.site.space_by_key("DOCS")
            record = state.apps.get(app.config["KEY"])
            assert space is not None and record is not None
            client_key, secret = state.site.client_key, record.shared_secret
            try:
                macro = emulator_macro_path(emulator_url, space.homepage_id)
            except BenchError as exc:
                raise SystemExit(str(exc)) from None
            admin = "/admin/freshness?" + urlencode(
                [("xdm_e", emulator_url), ("cp", "/wiki"), ("lic", "none"), ("cv", "1.1234.0")]
            )
            environs: dict[str, dict[str, object]] = {}

            def environ_of(url: str) -> dict[str, object]:
                environ: dict[str, object] = EnvironBuilder(path=url, base_url=app_url).get_environ()
                environ["wsgi.errors"] = null_stream
                return environ

            def get(url: str) -> int:
                base = environs.get(url)
                if base is None:
                    base = environs[url] = environ_of(url)
                status: list[str] = []
                body = app(dict(base), lambda line, headers, exc_info=None: status.append(line))
                try:
                    for _chunk in body:
                        pass
                finally:
                    close = getattr(body, "close", None)
                    if close is not None:
                        close()
                return int(status[0].split(" ", 1)[0])

            def signed(path: str, i: int, *, bad_qsh: bool = False) -> str:
                path = path.replace("?", f"?n={i}&", 1)
                return f"{path}&jwt={product_token(client_key, secret, path, bad_qsh=bad_qsh)}"

            first = signed(macro, 0)
            get(first)  # queues the first scan
            run_pending(get_queue(app))
            scenarios = {
                "macro": ([signed(macro, i) for i in range(args.requests)], 200),
                "admin": ([signed(admin, i) for i in range(args.requests)], 200),
                "bad-qsh": ([signed(macro, i, bad_qsh=True) for i in range(args.requests)], 401),
                "descriptor": (["/atlassian-connect.json"] * args.requests, 200),
            }
            for urls, _expected in scenarios.values():
                for url in urls[:5]:  # warm: the viewer check, the site-admin answer, caches
                    get(url)
                for url in urls:  # every environ built before the timed rounds
                    environs.setdefault(url, environ_of(url))
            # The same warm macro with every page rendered afresh: the render memo's baseline.
            scenarios["macro-no-memo"] = scenarios["macro"]
            memo = app.extensions["macro_render_memo"]
            if args.only:
                scenarios = {args.only: scenarios[args.only]}
            # Rounds interleave the scenarios, so a busy moment on a shared machine hits them all.
            best = dict.fromkeys(scenarios, float("inf"))
            for _ in range(args.rounds):
                for name, (urls, expected) in scenarios.items():
                    app.extensions["macro_render_memo"] = NoMemo() if name == "macro-no-memo" else memo
                    best[name] = min(best[name], round_cpu_ms(get, urls, expected))
                app.extensions["macro_render_memo"] = memo
            print(f"CPU ms per request, in-process (WSGI call), best of {args.rounds} x {args.requests}:")
            for name, ms in best.items():
                print(f"  {name:16}{ms:8.3f}")
            if callgrind is not None:
                for name, (urls, expected) in scenarios.items():
                    app.extensions["macro_render_memo"] = NoMemo() if name == "macro-no-memo" else memo
                    callgrind.start_counting()
                    round_cpu_ms(get, urls, expected)
                    callgrind.stop_counting(f"{name} {len(urls)}".encode())
                app.extensions["macro_render_memo"] = memo
            if args.profile in scenarios:
                urls, expected = scenarios[args.profile]
                profiler = cProfile.Profile()
                profiler.runcall(round_cpu_ms, get, urls, expected)
                pstats.Stats(profiler).sort_stats(args.profile_sort).print_stats(60)
        finally:
            for server in servers:
                server.stop()
            get_engine(app).dispose()


if __name__ == "__main__":
    main()
