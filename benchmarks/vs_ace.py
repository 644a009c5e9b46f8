"""Side by side: our app, served by the Procfile's web: line (granian), against atlassian-connect-express
(ACE) 11.5.3, with wrk, each server pinned to one core and wrk to the other.

Both servers run on this machine, on loopback, with real installs: ACE gets an RS256 signed install
whose public key is on a loopback install-keys server (``tests/kit/atlassian.KeyServer``); ours is
installed by the emulator's real lifecycle (``POST /_emulator/apps``). All servers run at once (ours
from every ``--venvs`` and ``--variants`` on its own port, sharing one store); then, in each of
``--rounds`` rounds and for each scenario, wrk drives each server in turn for a fixed duration after a
warm-up, cycling through pre-signed URLs with a Lua script. The order of the servers alternates from
one round to the next, an unrecorded round 0 warms every server up first, and the figures printed are
the medians over the rounds, with each ratio the median of the round-by-round ratios: on a machine
whose speed drifts (a shared VM), ACE and ours are compared within minutes of each other, never one
whole run apart. The scenarios:

* ``iframe``: an iframe load with a product-signed URL (HS256, qsh over the full query with
  Confluence's ``xdm_e``, ``xdm_c``, ``cp``, ``lic``, ``cv``; token in ``?jwt=``). ACE: its ``/macro``
  route, a trivial page. Ours: ``/macros/freshness``, the real freshness report served warm from the
  shared database cache (filled by a first render and one scan before measuring): every request reads
  the tenant, its settings and the cached report's version, confirms the viewer's rows (cached) and
  fills the memoised page with its own scope token.
* ``admin``: the admin iframe. ACE: ``/config`` (trivial page). Ours: ``/admin/freshness`` (settings,
  health, and the site-admin check, cached per process for 60 s).
* ``bad-qsh``: a valid signature whose qsh was computed for another query; both answer 401. This
  isolates the JWT verification path (tenant lookup, signature, qsh).
* ``descriptor`` (only with ``--scenarios``): ``GET /atlassian-connect.json``, unauthenticated.

Every server runs under ``taskset -c 0`` (``--server-cpu``): ACE's one node process, and ours with
``--workers`` processes (default 1, ``WEB_CONCURRENCY``); wrk and this script (with the emulator, idle
while wrk runs) under ``taskset -c 1`` (``--load-cpu``). It prints requests/s, p50 and p99 latency, the
CPU time the server's process tree spent per request, the ratios ours/ACE, issue 14's goals, and the
peak RSS of each server's process tree. It asserts nothing about timing.

Run: ``.venv/bin/python benchmarks/vs_ace.py [--duration 10] [--connections 16]``;
``--variants granian,gunicorn-sync,gunicorn-gthread`` adds gunicorn (``gunicorn.conf.py``) for comparison.
The ACE side is ``benchmarks/ace/`` (our small ACE app; ``package-lock.json`` pins ACE 11.5.3):
``benchmarks/ace/setup`` runs ``npm ci`` there once (about 2 minutes; Node 20+ and npm needed).
``--check`` only sets ACE up, starts it, installs a tenant and loads its macro once (no wrk needed).
With ``BENCH_DATABASE_URL=postgresql+psycopg://…`` (an empty database) ours is also run on PostgreSQL.
``--venvs .venv,.venv-debian`` serves ours from each virtualenv in turn, in the same run: the same code
on two Python builds (``VENV=.venv-debian PYTHON=/usr/bin/python3 bash scripts/setup`` makes one on
Debian's interpreter; ``docs/deployment.md``, "The interpreter"). Each one's build is printed.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html import unescape
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt
import requests
from atlassian_jwt.url_utils import hash_url
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.people import ADMIN_ACCOUNT_ID as ADMIN_ACCOUNT  # the emulator's Ada Admin
from emulator.server import create_app as create_emulator
from emulator.state import emulator_state
from tests.kit.atlassian import KeyServer
from tests.kit.live import LiveServer
from tests.kit.processes import free_port
from tests.kit.procfile import web_command, web_env

REPO = Path(__file__).resolve().parent.parent
ACE_DIR = REPO / "benchmarks" / "ace"  # our ACE app; its package-lock.json pins ACE 11.5.3
ACE_APP_KEY = "ace-benchmark-peer"  # the key in benchmarks/ace/atlassian-connect.json
BIN = Path(sys.executable).parent
ACE_TENANT = "https://bench.atlassian.net/wiki"  # production ACE only accepts *.atlassian.net hosts
URLS_PER_SCENARIO = 200
TOKEN_LIFETIME = 180


class BenchError(Exception):
    """Something did not come up; the message says what and where to look."""


def log(message: str) -> None:
    print(f"[vs_ace {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- processes ------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server started in its own process group, with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # workers left behind by a master that died first
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


#: The core each server runs on, and the one wrk (and this script, with the idle emulator) runs on;
#: set by main() from --server-cpu/--load-cpu. None: no pinning.
PINNING: dict[str, int | None] = {"server": None, "load": None}


def pinned(argv: list[str], role: str) -> list[str]:
    """``argv`` under ``taskset -c CPU`` for ``role`` (server or load); children inherit the core."""
    cpu = PINNING[role]
    return argv if cpu is None else ["taskset", "-c", str(cpu), *argv]


def start(name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log_dir: Path) -> Server:
    argv = pinned(argv, "server")
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, process, log_path)


def wait_up(server: Server, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(
                f"{server.name} exited with {server.process.returncode} before answering {url}; "
                f"log {server.log_path}:\n{tail(server.log_path)}"
            )
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise BenchError(
        f"{server.name} did not answer {url} within {timeout:.0f} s; log:\n{tail(server.log_path)}"
    )


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_rss_kib(root: int) -> int:
    total = 0
    for pid in tree_pids(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(match.group(1)) if match else 0
    return total


def tree_cpu_seconds(root: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class RssSampler:
    """Peak RSS of each watched process tree, sampled every 100 ms in a thread."""

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}
        self._watched: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, label: str, pid: int) -> None:
        with self._lock:
            self._watched[label] = pid

    def unwatch(self, label: str) -> None:
        self.sample()
        with self._lock:
            self._watched.pop(label, None)

    def sample(self) -> None:
        with self._lock:
            watched = dict(self._watched)
        for label, pid in watched.items():
            rss = tree_rss_kib(pid)
            if rss:
                self.peaks[label] = max(self.peaks.get(label, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


# -- tokens ---------------------------------------------------------------------------------------


def iframe_params(xdm_e: str, app_key: str, module_key: str) -> list[tuple[str, str]]:
    """The context parameters Confluence appends to every iframe URL."""
    return [
        ("xdm_e", xdm_e),
        ("xdm_c", f"channel-{app_key}__{module_key}"),
        ("cp", "/wiki"),
        ("xdm_deprecated_addon_key_do_not_use", app_key),
        ("lic", "none"),
        ("cv", "1.1234.0"),
    ]


def host_token(client_key: str, secret: str, qsh: str, *, context: dict[str, Any]) -> str:
    now = int(time.time())
    claims = {
        "iss": client_key,
        "sub": ADMIN_ACCOUNT,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "qsh": qsh,
        "context": context,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def signed(path_and_query: str, token: str) -> str:
    return f"{path_and_query}{'&' if '?' in path_and_query else '?'}jwt={token}"


@dataclass
class Tenant:
    client_key: str
    secret: str
    context: dict[str, Any] = field(default_factory=dict)

    def token_for(self, path: str, *, bad_qsh: bool = False) -> str:
        """A product token for ``GET path``; with ``bad_qsh``, its qsh names another query."""
        qsh = hash_url("GET", "/macro?pageId=1" if bad_qsh else path)
        return host_token(self.client_key, self.secret, qsh, context=self.context)

    def urls(self, make_path: Callable[[int], str], *, bad_qsh: bool = False) -> list[str]:
        """``URLS_PER_SCENARIO`` signed URLs, each with its own token (and qsh)."""
        return [
            signed(path, self.token_for(path, bad_qsh=bad_qsh))
            for path in map(make_path, range(URLS_PER_SCENARIO))
        ]


# -- ACE ------------------------------------------------------------------------------------------


def ensure_ace_install(timeout: float) -> Path:
    """``node_modules`` of ``benchmarks/ace/``: ``benchmarks/ace/setup`` runs ``npm ci`` once per lockfile."""
    log_path = REPO / "test-artifacts" / "ace-setup.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log(f"setting up ACE in {ACE_DIR} (npm ci and a sqlite3 build the first time: about 2 minutes)")
    with log_path.open("wb") as out:
        try:
            result = subprocess.run(
                ["bash", str(ACE_DIR / "setup")],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"ACE's setup took over {timeout:.0f} s; see {log_path}") from None
    if result.returncode != 0:
        raise BenchError(f"ACE's setup failed (exit {result.returncode}); log {log_path}:\n{tail(log_path)}")
    return ACE_DIR / "node_modules"


@dataclass
class Ace:
    server: Server
    keyserver: KeyServer
    url: str
    tenant: Tenant

    def stop(self) -> None:
        self.server.stop()
        self.keyserver.stop()


def start_ace(tmp: Path) -> Ace:
    """Start a loopback install-keys server and the ACE app, and install one tenant (signed install)."""
    keyserver = KeyServer().start()
    port = free_port()
    env = {
        **os.environ,
        "ACE_PORT": str(port),
        "ACE_DB": str(tmp / "ace.db"),
        "NODE_ENV": "production",
        "CONNECT_KEYS_CDN_URL": keyserver.url,
    }
    server = start("ace-app", ["node", "app.js"], cwd=ACE_DIR, env=env, log_dir=tmp)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(server, f"{url}/healthz", timeout=20)
        tenant = Tenant(
            client_key=f"bench-{uuid.uuid4().hex[:12]}",
            secret=uuid.uuid4().hex + uuid.uuid4().hex,
            context={"user": {"accountId": ADMIN_ACCOUNT}},
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = f"bench-{uuid.uuid4().hex[:8]}"
        keyserver.publish(kid, key)
        now = int(time.time())
        token = jwt.encode(
            {
                "iss": tenant.client_key,
                "sub": ADMIN_ACCOUNT,
                "aud": [url],
                "iat": now,
                "exp": now + TOKEN_LIFETIME,
                "qsh": hash_url("POST", "/installed"),
                "context": {},
            },
            key,
            algorithm="RS256",
            headers={"kid": kid},
        )
        payload = {
            "key": ACE_APP_KEY,
            "clientKey": tenant.client_key,
            "sharedSecret": tenant.secret,
            "serverVersion": "6452",
            "pluginsVersion": "1001.0.0-SNAPSHOT",
            "baseUrl": ACE_TENANT,
            "displayUrl": ACE_TENANT,
            "productType": "confluence",
            "description": "benchmark tenant",
            "eventType": "installed",
            "oauthClientId": "bench-oauth-client",
            "cloudId": str(uuid.uuid4()),
        }
        response = requests.post(
            f"{url}/installed", json=payload, headers={"Authorization": f"JWT {token}"}, timeout=10
        )
        if response.status_code != 204:
            raise BenchError(
                f"ACE refused the signed install: {response.status_code} {response.text[:200]}; "
                f"log:\n{tail(server.log_path)}"
            )
    except BaseException:
        server.stop()
        keyserver.stop()
        raise
    return Ace(server, keyserver, url, tenant)


def check_ace() -> int:
    """Set ACE up, start it, install a tenant, and load its macro once with a product-signed URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ensure_ace_install(timeout=420)
    with tempfile.TemporaryDirectory(prefix="vs_ace-check-") as tmp_name, terminate_on_signals():
        ace = start_ace(Path(tmp_name))
        try:
            path = ace.tenant.urls(ace_paths("iframe"))[0]
            response = requests.get(ace.url + path, timeout=10)
            bad = requests.get(ace.url + ace.tenant.urls(ace_paths("iframe"), bad_qsh=True)[0], timeout=10)
        finally:
            ace.stop()
    ok = response.status_code == 200 and "<h1>Macro</h1>" in response.text and bad.status_code == 401
    print(f"ACE: signed install 204, macro {response.status_code}, wrong qsh {bad.status_code}")
    return 0 if ok else 1


def ace_paths(kind: str) -> Callable[[int], str]:
    xdm_e = "https://bench.atlassian.net"
    if kind == "admin":
        return lambda i: "/config?" + urlencode(iframe_params(xdm_e, ACE_APP_KEY, "bench-config"))

    def macro(i: int) -> str:
        params = [("pageId", "98765"), ("macroId", f"bench-macro-{i:04d}")]
        return "/macro?" + urlencode(params + iframe_params(xdm_e, ACE_APP_KEY, "bench-macro"))

    return macro


# -- ours -----------------------------------------------------------------------------------------


@dataclass
class Ours:
    url: str
    port: int
    env: dict[str, str]
    macro_path: str  # the iframe path and query the emulator builds, without the jwt
    tenant: Tenant | None = None


def our_env(app_url: str, emulator_url: str, database: str, jobs_path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "FLASK_"))}
    env.update(
        {
            "APP_BASE_URL": app_url,
            "APP_DATABASE_URL": database,
            "APP_INSTALL_KEYS_URL": f"{emulator_url}/install-keys",
            "APP_OAUTH_URL": emulator_url,
            "APP_ALL_JS_URL": f"{emulator_url}/atlassian-connect/all.js",
            "APP_ALLOWED_TENANT_HOSTS": '["127.0.0.1"]',
            "APP_SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "APP_JOBS_SQLITE_PATH": jobs_path,
            # as in production (which refuses to start without): shared secrets sealed at rest
            "APP_SECRETS_KEYS": Fernet.generate_key().decode(),
        }
    )
    return env


def run_flask(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``flask --app app ARGS`` from this virtualenv, in the repository, its output captured."""
    return subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def migrate(env: dict[str, str]) -> None:
    result = run_flask(["db", "upgrade"], env, timeout=90)
    if result.returncode != 0:
        raise BenchError(f"flask db upgrade failed ({env['APP_DATABASE_URL']}):\n{result.stderr[-2000:]}")


#: Our server variants: the Procfile's web: line (production), and gunicorn for comparison.
VARIANTS = ("granian", "gunicorn-sync", "gunicorn-gthread")


def start_ours(
    variant: str, name: str, port: int, env: dict[str, str], workers: int, log_dir: Path, bin_dir: Path = BIN
) -> Server:
    """Our server ``variant``, run from the virtualenv whose scripts are in ``bin_dir``."""
    if variant == "granian":
        served = web_env(env, port=port, workers=workers)
        served["PATH"] = f"{bin_dir}{os.pathsep}{served['PATH']}"  # the Procfile line finds its granian
        return start(name, web_command(), cwd=REPO, env=served, log_dir=log_dir)
    argv = [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"]
    argv += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "/dev/null"]
    if variant == "gunicorn-gthread":
        argv += ["--worker-class", "gthread", "--threads", "4"]
    return start(name, argv, cwd=REPO, env=env, log_dir=log_dir)


def install_ours(emulator: Any, emulator_url: str, ours: Ours, first: bool) -> None:
    """Install (first database) or reinstall (later ones) through the emulator's real lifecycle."""
    if first:
        response = requests.post(
            f"{emulator_url}/_emulator/apps",
            json={"descriptorUrl": f"{ours.url}/atlassian-connect.json"},
            timeout=60,
        )
    else:
        key = ours.env.get("APP_KEY", "com.example.confluence-freshness")
        response = requests.post(f"{emulator_url}/_emulator/apps/{key}/reinstall", timeout=60)
    if response.status_code not in (200, 201):
        raise BenchError(
            f"the emulator could not install our app: {response.status_code} {response.text[:300]}"
        )
    key = response.json()["key"]
    state = emulator_state(emulator)
    record = state.apps.get(key)
    if record is None:
        raise BenchError(f"the emulator has no record of {key} after installing it")
    ours.tenant = Tenant(client_key=state.site.client_key, secret=record.shared_secret)


def first_render(
    emulator: Any,
    emulator_url: str,
    ours: Ours,
    homepage_id: int,
    *,
    first_install: bool,
    env: dict[str, str],
    pages: int,
) -> str:
    """Install ours, load the macro once (it queues the scan), run the scan as a worker would, once;
    returns how long that took."""
    install_ours(emulator, emulator_url, ours, first=first_install)
    ours.macro_path = emulator_macro_path(emulator_url, homepage_id)
    assert ours.tenant is not None
    began = time.perf_counter()
    first_url = signed(ours.macro_path, ours.tenant.token_for(ours.macro_path))
    response = requests.get(ours.url + first_url, timeout=120)
    if response.status_code != 200:
        raise BenchError(f"the first render answered {response.status_code}")
    drained = run_flask(["worker", "--drain"], env, timeout=600)
    if drained.returncode != 0:
        raise BenchError(f"flask worker --drain failed:\n{drained.stderr[-2000:]}")
    return f"{time.perf_counter() - began:.2f} s for {pages:,} pages"


def emulator_macro_path(emulator_url: str, homepage_id: int) -> str:
    """The macro iframe's path and query (without its token) on the DOCS home page of the emulator."""
    page = requests.get(f"{emulator_url}/wiki/spaces/DOCS/pages/{homepage_id}", timeout=30).text
    match = re.search(r'<iframe[^>]+src="([^"]+/macros/freshness[^"]+)"', page)
    if not match:
        raise BenchError("the emulator's host page has no macro iframe: is our app installed?")
    src = urlsplit(unescape(match.group(1)))
    query = [(k, v) for k, v in parse_qsl(src.query, keep_blank_values=True) if k != "jwt"]
    return f"{src.path}?{urlencode(query, quote_via=quote)}"


def our_paths(kind: str, ours: Ours, emulator_url: str) -> Callable[[int], str]:
    if kind == "admin":
        params = iframe_params(emulator_url, "com.example.confluence-freshness", "freshness-admin")
        return lambda i: "/admin/freshness?" + urlencode(params)
    base = ours.macro_path

    def macro(i: int) -> str:
        return re.sub(r"macroId=[^&]*", f"macroId=bench-macro-{i:04d}", base)

    return macro


# -- wrk ------------------------------------------------------------------------------------------

LUA = """
local paths = %(paths)s
local counter = 0
setup = function(thread)
  thread:set("offset", counter)
  counter = counter + 61
end
local i = 0
init = function(args)
  i = offset or 0
end
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"bytes\\": %%d, \\"p50\\": %%d, "
    .. "\\"p99\\": %%d, \\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"status\\": %%d, "
    .. "\\"timeout\\": %%d}\\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
"""


def scenario_paths(kind: str, tenant: Tenant, routes: Callable[[str], Callable[[int], str]]) -> list[str]:
    """The paths wrk cycles through for scenario ``kind`` on one server, signed for ``tenant``;
    ``routes`` makes that server's paths for a route ("iframe" or "admin")."""
    if kind == "descriptor":
        return ["/atlassian-connect.json"]
    return tenant.urls(routes("admin" if kind == "admin" else "iframe"), bad_qsh=kind == "bad-qsh")


def lua_script(paths: list[str], directory: Path) -> Path:
    quoted = ", ".join(json.dumps(p) for p in paths)  # JSON strings are valid Lua strings here
    script = directory / f"wrk-{uuid.uuid4().hex[:8]}.lua"
    script.write_text(LUA % {"paths": "{" + quoted + "}"})
    return script


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_expected: int
    cpu_ms_per_request: float
    status: int
    body_bytes: int


#: Each server's results per scenario, keyed by (database, round): a round pairs ours with ACE's
#: measurement of the same round, minutes apart at most.
Results = dict[tuple[str, str], dict[tuple[str, int], Result]]


def median_of(rounds: dict[tuple[str, int], Result]) -> Result:
    """The medians over the rounds (errors: summed)."""
    values = list(rounds.values())
    return Result(
        rps=statistics.median(r.rps for r in values),
        p50_ms=statistics.median(r.p50_ms for r in values),
        p99_ms=statistics.median(r.p99_ms for r in values),
        errors=sum(r.errors for r in values),
        non_expected=sum(r.non_expected for r in values),
        cpu_ms_per_request=statistics.median(r.cpu_ms_per_request for r in values),
        status=values[0].status,
        body_bytes=values[0].body_bytes,
    )


def paired_ratios(
    ours: dict[tuple[str, int], Result], ace: dict[tuple[str, int], Result], measure_of: str
) -> list[float]:
    """Ours / ACE of one figure, round by round (each round against ACE's measurement of that round)."""
    ratios = []
    for key, result in ours.items():
        baseline = ace.get(key)
        if baseline is not None and getattr(baseline, measure_of):
            ratios.append(getattr(result, measure_of) / getattr(baseline, measure_of))
    return ratios


def run_wrk(url: str, script: Path, seconds: float, connections: int, threads: int) -> dict[str, int]:
    argv = pinned(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        "load",
    )
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk against {url} did not finish") from None
    match = re.search(r"^WRKJSON (.*)$", result.stdout, re.M)
    if result.returncode != 0 or not match:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    parsed: dict[str, int] = json.loads(match.group(1))
    return parsed


def measure(
    server: Server, base_url: str, paths: list[str], expected: int, args: argparse.Namespace, tmp: Path
) -> Result:
    """Check one request, warm up, then measure with wrk; CPU of the server tree over the measured run."""
    probe = requests.get(base_url + paths[0], timeout=30)
    if probe.status_code != expected:
        raise BenchError(
            f"{server.name}: GET {paths[0][:80]}… answered {probe.status_code}, not {expected}: "
            f"{probe.text[:300]}"
        )
    script = lua_script(paths, tmp)
    if args.warmup > 0:
        run_wrk(base_url, script, args.warmup, args.connections, args.threads)
    cpu_before = tree_cpu_seconds(server.process.pid)
    raw = run_wrk(base_url, script, args.duration, args.connections, args.threads)
    cpu = tree_cpu_seconds(server.process.pid) - cpu_before
    requests_done = max(raw["requests"], 1)
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    # wrk counts every status >= 400 as an error; for the 401 scenario those are the expected answers
    non_expected = raw["status"] if expected < 400 else 0
    return Result(
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50"] / 1000,
        p99_ms=raw["p99"] / 1000,
        errors=socket_errors,
        non_expected=non_expected,
        cpu_ms_per_request=cpu * 1000 / requests_done,
        status=probe.status_code,
        body_bytes=len(probe.content),
    )


# -- the run --------------------------------------------------------------------------------------

SCENARIOS = [
    ("iframe", "iframe load, product-signed URL (ACE /macro vs ours /macros/freshness)", 200),
    ("admin", "admin iframe, product-signed URL (ACE /config vs ours /admin/freshness)", 200),
    ("bad-qsh", "iframe URL whose token has a wrong qsh: 401 (JWT verification path)", 401),
    ("descriptor", "GET /atlassian-connect.json, unauthenticated", 200),
]


def versions(modules: Path) -> dict[str, str]:
    def npm_version(package: str) -> str:
        try:
            return str(json.loads((modules / package / "package.json").read_text())["version"])
        except (OSError, KeyError, ValueError):
            return "?"

    def py_version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "?"

    node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    wrk_banner = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
    ).stdout.strip()
    return {
        "ACE": (
            f"atlassian-connect-express {npm_version('atlassian-connect-express')}, "
            f"atlassian-jwt {npm_version('atlassian-jwt')}, express {npm_version('express')}, "
            f"sqlite3 {npm_version('sqlite3')}, Node {node}"
        ),
        "ours": (
            f"confluence-freshness {py_version('confluence-freshness')} ({commit}), "
            f"Flask {py_version('flask')}, "
            f"gunicorn {py_version('gunicorn')}, PyJWT {py_version('pyjwt')}, "
            f"SQLAlchemy {py_version('sqlalchemy')}, granian {py_version('granian')}"
        ),
        "wrk": (wrk_banner.stdout + wrk_banner.stderr).split("Copyright")[0].strip(),
    }


#: What an interpreter says of its own build (printed beside the figures: it changes them by a fifth).
_INTERPRETER_FACTS = """
import sys, sysconfig
args = sysconfig.get_config_var("CONFIG_ARGS") or ""
flags = " ".join(f for f in ("--enable-optimizations", "--with-lto") if f in args) or "none"
try:
    with open("/proc/self/maps") as maps:
        kind = "libpython shared" if "libpython" in maps.read() else "libpython in the executable"
except OSError:
    kind = "libpython: ?"
print(f"Python {sys.version.split()[0]}, {sys.base_prefix}, {kind}, PGO/LTO configure flags: {flags}")
"""


def interpreter_of(bin_dir: Path) -> str:
    """One line on the Python of the virtualenv with scripts in ``bin_dir``: version, prefix, build."""
    result = subprocess.run(
        [str(bin_dir / "python"), "-c", _INTERPRETER_FACTS], capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        raise BenchError(f"{bin_dir / 'python'} did not start: {result.stderr[-500:]}")
    return result.stdout.strip()


def venv_bins(spec: str) -> list[Path]:
    """The ``bin`` directories of the virtualenvs named in ``--venvs`` (default: this one)."""
    if not spec:
        return [BIN]
    bins = []
    for name in (part.strip() for part in spec.split(",") if part.strip()):
        bin_dir = (Path(name) if Path(name).is_absolute() else Path.cwd() / name).resolve() / "bin"
        if not (bin_dir / "granian").exists() or not (bin_dir / "python").exists():
            raise BenchError(f"{name} is not a virtualenv with the app installed (no bin/granian)")
        bins.append(bin_dir)
    return bins


@contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so that the finally blocks tear everything down."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(f"interrupted by signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per scenario and server")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per scenario and server")
    parser.add_argument("--pages", type=int, default=1000, help="pages in the emulator's DOCS space")
    parser.add_argument(
        "--variants",
        default="granian",
        help="our servers: granian (the Procfile's web: line), gunicorn-sync, gunicorn-gthread (4 threads)",
    )
    parser.add_argument("--workers", type=int, default=1, help="our server's processes (WEB_CONCURRENCY)")
    parser.add_argument(
        "--venvs",
        default="",
        help="comma-separated virtualenvs to serve ours from, each with the app installed "
        "(`VENV=DIR bash scripts/setup`); default: the one running this script",
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="the core every server is pinned to")
    parser.add_argument("--load-cpu", type=int, default=1, help="the core wrk and this script run on")
    parser.add_argument("--no-pin", action="store_true", help="pin nothing (e.g. on a one-core machine)")
    parser.add_argument(
        "--scenarios", default="iframe,admin,bad-qsh", help="of iframe, admin, bad-qsh, descriptor"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds; each measures every server once per scenario, the order alternating from one round "
        "to the next; figures are the medians over the rounds (after a round 0 that only warms up)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--check", action="store_true", help="only check that ACE sets up and answers")
    args = parser.parse_args()
    if args.check:
        return check_ace()
    if not 1 <= args.duration <= 120 or args.warmup + args.duration + 10 > TOKEN_LIFETIME:
        parser.error("--duration must be 1..120 s (tokens live 180 s, warm-up included)")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not variants or any(v not in VARIANTS for v in variants):
        parser.error(f"--variants takes {', '.join(VARIANTS)}")
    if not args.no_pin:
        if shutil.which("taskset") is None:
            parser.error("taskset is not installed (Debian: util-linux); or pass --no-pin")
        cpus = os.sched_getaffinity(0)
        if args.server_cpu not in cpus or args.load_cpu not in cpus or args.server_cpu == args.load_cpu:
            parser.error(f"--server-cpu and --load-cpu must be two different cores of {sorted(cpus)}")
        PINNING.update(server=args.server_cpu, load=args.load_cpu)
        os.sched_setaffinity(
            0, {args.load_cpu}
        )  # this script and its idle emulator stay off the server's core
    scenarios = [s for s in SCENARIOS if s[0] in args.scenarios.split(",")]
    bins = venv_bins(args.venvs)
    interpreters = {f"python ({b.parent.name})": interpreter_of(b) for b in bins}
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    started = time.monotonic()
    modules = ensure_ace_install(timeout=420)
    databases: list[tuple[str, str | None]] = [("sqlite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        databases.append(("postgresql", os.environ["BENCH_DATABASE_URL"]))

    results: Results = {}
    targets: list[str] = ["ACE"]
    notes: dict[str, str] = {}
    with (
        tempfile.TemporaryDirectory(prefix="vs_ace-") as tmp_name,
        RssSampler() as rss,
        terminate_on_signals(),
    ):
        tmp = Path(tmp_name)
        log("starting ACE (key server + app) and installing one tenant with a signed install")
        ace = start_ace(tmp)
        # ours: the emulator in this process (idle while wrk runs), each server in its own processes
        emulator_port, app_port = free_port(), free_port()
        emulator_url, app_url = f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{app_port}"
        emulator = create_emulator(port=emulator_port, pages=args.pages, seed=1)
        emulator_server = LiveServer(emulator, emulator_port).start()
        try:
            rss.watch("ACE", ace.server.process.pid)
            space = emulator_state(emulator).site.space_by_key("DOCS")
            assert space is not None
            for db_index, (db_name, db_url) in enumerate(databases):
                database = db_url or f"sqlite:///{tmp}/ours.db"
                # Every serving of ours runs at once, each on its own port, all for one APP_BASE_URL
                # (the first one's, which the emulator installs through): they share the store. The
                # first port is the same for every database: the emulator reinstalls from that URL.
                ports = [app_port] + [free_port() for _ in range(len(bins) * len(variants) - 1)]
                env = our_env(app_url, emulator_url, database, f"{tmp}/jobs-{db_name}.db")
                log(f"ours on {db_name}: flask db upgrade")
                migrate(env)
                ours = Ours(app_url, app_port, env, macro_path="")
                servings = [(bin_dir, variant) for bin_dir in bins for variant in variants]
                started_servers: list[tuple[str, Server, str]] = []
                try:
                    for (bin_dir, variant), port in zip(servings, ports, strict=True):
                        label = (
                            f"ours {variant}"
                            + (f" {bin_dir.parent.name}" if len(bins) > 1 else "")
                            + (f" {db_name}" if len(databases) > 1 else "")
                        )
                        server = start_ours(
                            variant, label.replace(" ", "-"), port, env, args.workers, tmp, bin_dir
                        )
                        url = f"http://127.0.0.1:{port}"
                        started_servers.append((label, server, url))
                        wait_up(server, f"{url}/atlassian-connect.json", timeout=30)
                        rss.watch(label, server.process.pid)
                        targets.append(label)
                    log(f"ours on {db_name}: install via the emulator, then a first render (fills the cache)")
                    notes[f"first render ({db_name})"] = first_render(
                        emulator,
                        emulator_url,
                        ours,
                        space.homepage_id,
                        first_install=db_index == 0,
                        env=env,
                        pages=args.pages,
                    )
                    assert ours.tenant is not None
                    ours_tenant = ours.tenant
                    our_routes = functools.partial(our_paths, ours=ours, emulator_url=emulator_url)
                    # Round 0 is not recorded: it warms every server up on every route (node's JIT
                    # needs more than a few seconds to settle, and a first round measured it cold).
                    for round_index in range(args.rounds + 1):
                        # alternate the order, so that a drift of the machine's speed within a round
                        # does not always favour the same server
                        order = [("ACE", ace.server, ace.url), *started_servers]
                        if round_index % 2 == 0:
                            order.reverse()
                        for kind, _title, expected in scenarios:
                            for label, server, url in order:
                                paths = (
                                    scenario_paths(kind, ace.tenant, ace_paths)
                                    if label == "ACE"
                                    else scenario_paths(kind, ours_tenant, our_routes)
                                )
                                log(f"round {round_index}/{args.rounds}, {kind}: {label}")
                                result = measure(server, url, paths, expected, args, tmp)
                                if round_index > 0:
                                    results.setdefault((label, kind), {})[(db_name, round_index)] = result
                finally:
                    for label, server, _url in started_servers:
                        rss.unwatch(label)
                        server.stop()
        finally:
            emulator_server.stop()
            rss.unwatch("ACE")
            ace.stop()

    tool_versions = {**versions(modules), **interpreters}
    report(results, targets, scenarios, rss.peaks, tool_versions, notes, args, time.monotonic() - started)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "results": {
                        f"{t}|{k}": [{"database": db, "round": n, **vars(r)} for (db, n), r in rounds.items()]
                        for (t, k), rounds in results.items()
                    },
                    "peak_rss_mib": {k: v / 1024 for k, v in rss.peaks.items()},
                },
                indent=2,
            )
        )
    return 0


#: Issue 14's goals, ours against ACE: req/s ratio, p99 no worse, CPU per warm request, the 401 path.
GOALS = {"iframe": 3.5, "admin": 3.5, "bad-qsh": 2.0}
GOAL_CPU_MS = 0.45


def report(
    results: Results,
    targets: list[str],
    scenarios: list[tuple[str, str, int]],
    peaks: dict[str, int],
    tool_versions: dict[str, str],
    notes: dict[str, str],
    args: argparse.Namespace,
    elapsed: float,
) -> None:
    print()
    for name, version in tool_versions.items():
        print(f"{name + ':':6} {version}")
    pinning = (
        "nothing pinned"
        if PINNING["server"] is None
        else f"each server pinned to CPU {PINNING['server']}, wrk (and this script) to CPU {PINNING['load']}"
    )
    print(
        f"load:  wrk -t{args.threads} -c{args.connections}, {args.warmup:g} s warm-up + {args.duration:g} s "
        f"per scenario, server and round ({args.rounds} rounds), {URLS_PER_SCENARIO} pre-signed URLs "
        f"cycled; {os.cpu_count()} CPUs, {pinning}"
    )
    print(
        "ACE:   node app.js (one process, NODE_ENV=production, sqlite store). "
        f"ours: {args.workers} process(es); granian = the Procfile's web: line "
        f"(`{web_command()[2]}`), secrets sealed at rest (APP_SECRETS_KEYS)"
    )
    print()
    print(
        f"figures: medians over {args.rounds} round(s) after an unrecorded warm-up round; ratios: the median "
        "of the round-by-round ratios (ours against ACE in the same round)"
    )
    print()
    for kind, title, _expected in scenarios:
        ace_rounds = results.get(("ACE", kind))
        print(f"{kind}: {title}")
        print(
            f"  {'server':30}{'status':>7}{'bytes':>8}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'CPU ms/req':>11}{'errors':>7}{'req/s vs ACE':>13}{'p99 vs ACE':>11}{'CPU vs ACE':>11}"
        )
        for target in targets:
            rounds = results.get((target, kind))
            if not rounds:
                continue
            r = median_of(rounds)
            ratio = p99_ratio = cpu_ratio = ""
            if target != "ACE" and ace_rounds:
                ratio, p99_ratio, cpu_ratio = (
                    f"{statistics.median(values):.2f}x" if values else ""
                    for values in (
                        paired_ratios(rounds, ace_rounds, measure_of)
                        for measure_of in ("rps", "p99_ms", "cpu_ms_per_request")
                    )
                )
            print(
                f"  {target:30}{r.status:>7}{r.body_bytes:>8}{r.rps:>9.0f}{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}"
                f"{r.cpu_ms_per_request:>11.3f}{r.errors + r.non_expected:>7}{ratio:>13}{p99_ratio:>11}"
                f"{cpu_ratio:>11}"
            )
        print()
    print("issue 14's goals (ours / ACE):")
    for target in targets[1:]:
        for kind, goal in GOALS.items():
            ours_rounds, ace_rounds = results.get((target, kind)), results.get(("ACE", kind))
            if not ours_rounds or not ace_rounds:
                continue
            ratios = paired_ratios(ours_rounds, ace_rounds, "rps")
            if not ratios:
                continue
            ours, ace = median_of(ours_rounds), median_of(ace_rounds)
            line = (
                f"  {target:30} {kind:9} req/s {statistics.median(ratios):5.2f}x "
                f"(rounds {min(ratios):.2f}-{max(ratios):.2f}; goal >= {goal}x)"
            )
            if kind != "bad-qsh":
                p99_ok = sum(ratio <= 1 for ratio in paired_ratios(ours_rounds, ace_rounds, "p99_ms"))
                line += (
                    f", p99 {ours.p99_ms:.2f} vs {ace.p99_ms:.2f} ms "
                    f"(<= ACE's in {p99_ok}/{len(ratios)} rounds)"
                )
            if kind == "iframe":
                line += f", CPU {ours.cpu_ms_per_request:.3f} ms/req (goal <= {GOAL_CPU_MS})"
            print(line)
    print()
    print("peak RSS of each server's process tree (ACE: the node app; ours: the server and its workers):")
    for target in targets:
        print(f"  {target:30}{peaks.get(target, 0) / 1024:>8.1f} MiB")
    for name, note in notes.items():
        print(f"{name}: {note}")
    print(
        "\nNot like for like: ACE's /macro and /config look the tenant up in their store and fill a"
        "\ntrivial string template. Ours take the tenant, settings and report version from the process's"
        "\nshort-lived copies (APP_HOT_CACHE_SECONDS; no database round trip when warm), check the"
        "\nviewer's rows and editors' names (cached answers), sign a scope token and fill a memoised page"
        "\nof about 7.5 KB; /admin/freshness also checks the cached site-admin answer and shows health and"
        "\nthe job counts. Every response of ours also carries a request log line, Prometheus counters and"
        "\nthe security headers. bad-qsh (401) is the closest to like for like."
    )
    print(f"\ntotal time {elapsed:.0f} s")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"vs_ace: {exc}", file=sys.stderr)
        sys.exit(1)
