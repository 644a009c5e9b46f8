"""Pagination benchmark: requests made, client overhead vs. a bare requests loop, and memory growth.

Serves N items (10,000 and 100,000) as Confluence-style cursor pages from a minimal loopback server in a
child process (so tracemalloc sees only the client), then for each N prints:

* requests made by the client, and the expected ceil(N / 250);
* wall time of ``ConfluenceClient.iter_pages()`` (signing, retries wrapper, link checks) vs. a bare
  ``requests`` loop following the same ``Link`` headers, in the same run, and their ratio;
* peak traced memory while consuming the generator (items are counted, not kept), for both sizes,
  and the ratio between them: a generator holding one page at a time stays flat as N grows.

Run: ``.venv/bin/python benchmarks/pagination.py``. It prints figures; it asserts nothing about timing.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from app.confluence import ClientEvent, ClientSettings, client_as_app

SIZES = (10_000, 100_000)
PAGE = 250


# -- the server (child process) -----------------------------------------------------------------


def serve() -> None:
    """Serve ``/wiki/api/v2/pages?n=N`` as cursor pages, forever; print the port first.

    ``http.server`` with HTTP/1.1 and Content-Length keeps connections alive (Werkzeug's dev server
    closes every one), so the figures measure pagination rather than TCP set-up.
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    counter = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/stats":
                body = json.dumps(counter).encode()
                counter["requests"] = 0
                self._send(body, [])
                return
            counter["requests"] += 1
            args = parse_qs(url.query)
            total, limit = int(args["n"][0]), int(args.get("limit", ["25"])[0])
            start = (
                int(json.loads(base64.urlsafe_b64decode(args["cursor"][0]))["at"]) if "cursor" in args else 0
            )
            results = [
                {
                    "id": f"{10_000_000 + i}",  # fixed width: pages weigh the same for every N
                    "status": "current",
                    "title": f"Page {i:07d}",
                    "spaceId": "1",
                    "parentId": None,
                    "version": {"number": 1, "createdAt": "2024-01-01T00:00:00.000Z"},
                }
                for i in range(start, min(start + limit, total))
            ]
            links = {"base": "/wiki"}
            headers = []
            if start + limit < total:
                cursor = base64.urlsafe_b64encode(
                    json.dumps({"at": f"{start + limit:07d}"}).encode()
                ).decode()
                links["next"] = "/wiki/api/v2/pages?" + urlencode(
                    {"cursor": cursor, "n": total, "limit": limit}
                )
                headers.append(("Link", f'<{links["next"]}>; rel="next"'))
            self._send(json.dumps({"results": results, "_links": links}).encode(), headers)

        def _send(self, body: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_port, flush=True)
    server.serve_forever()


# -- the client side ----------------------------------------------------------------------------


@dataclass
class Creds:
    client_key: str
    base_url: str
    shared_secret: str = "benchmark-shared-secret-0123456789abcdef"  # noqa: S105 - a local fake
    oauth_client_id: str | None = None


def with_client(base: str, n: int) -> tuple[int, float, int]:
    """Consume every item through ConfluenceClient; return (items, seconds, requests seen by the hook)."""
    events: list[ClientEvent] = []
    settings = ClientSettings(app_key="benchmark.app", timeout=30.0)
    with client_as_app(Creds("bench", base + "/wiki"), settings, on_event=events.append) as client:
        start = time.perf_counter()
        count = sum(1 for _ in client.iter("/pages", {"n": str(n)}))
        elapsed = time.perf_counter() - start
    return count, elapsed, len(events)


def bare(base: str, n: int) -> tuple[int, float]:
    """The same pages with nothing but requests: the floor the client is compared with."""
    with requests.Session() as session:
        start = time.perf_counter()
        url: str | None = f"{base}/wiki/api/v2/pages?n={n}&limit={PAGE}"
        count = 0
        while url:
            response = session.get(url, timeout=30)
            response.raise_for_status()
            count += len(response.json()["results"])
            link = response.links.get("next", {}).get("url")
            url = base + link if link else None
        return count, time.perf_counter() - start


def peak_memory(base: str, n: int) -> int:
    """Peak traced bytes above the baseline while consuming (not keeping) every item."""
    settings = ClientSettings(app_key="benchmark.app", timeout=30.0)
    with client_as_app(Creds("bench", base + "/wiki"), settings) as client:
        client.get_space  # noqa: B018 - warm imports outside the traced window
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        count = sum(1 for _ in client.iter("/pages", {"n": str(n)}))
        peak = tracemalloc.get_traced_memory()[1] - baseline
        tracemalloc.stop()
    assert count == n
    return peak


def server_requests(base: str) -> int:
    return int(requests.get(f"{base}/stats", timeout=5).json()["requests"])


def main() -> None:
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        base = f"http://127.0.0.1:{child.stdout.readline().strip()}"
        with_client(base, 1000)  # warm up connections and code paths
        bare(base, 1000)
        peak_memory(base, 1000)
        server_requests(base)
        peaks: dict[int, int] = {}
        columns = ("N", "requests", "expected", "client s", "bare s", "ratio", "peak KiB")
        print(" ".join(f"{c:>9}" for c in columns))
        for n in SIZES:
            times_client, times_bare = [], []
            for _ in range(3):  # best of three, interleaved, to damp noise
                items, seconds, seen = with_client(base, n)
                made = server_requests(base)
                assert items == n
                times_client.append(seconds)
                items, seconds = bare(base, n)
                server_requests(base)
                assert items == n
                times_bare.append(seconds)
            peaks[n] = min(peak_memory(base, n) for _ in range(3))  # allocator noise is ~10 %
            server_requests(base)
            best_client, best_bare = min(times_client), min(times_bare)
            print(
                f"{n:>9} {made:>9} {math.ceil(n / PAGE):>9} {best_client:>9.3f} {best_bare:>9.3f} "
                f"{best_client / best_bare:>9.2f} {peaks[n] / 1024:>9.1f}"
            )
            if seen != made:
                print(f"  note: the client's event hook saw {seen} requests, the server {made}")
        small, large = peaks[SIZES[0]], peaks[SIZES[1]]
        print(
            f"peak memory while consuming: {small / 1024:.0f} KiB for {SIZES[0]:,} items, "
            f"{large / 1024:.0f} KiB for {SIZES[1]:,}: {large / small:.2f}x for 10x the items (flat is ~1x)"
        )
    finally:
        child.terminate()
        child.wait(timeout=5)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main()
