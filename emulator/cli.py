"""Command line: ``serve`` runs an emulator; other subcommands drive a running one via its control API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence

import requests
from werkzeug.serving import make_server

from emulator.faults import FaultSettings
from emulator.server import create_app
from emulator.state import emulator_state

DEFAULT_EMULATOR = os.environ.get("EMULATOR_URL", "http://127.0.0.1:8080")
INSTALL_WAIT_SECONDS = 30.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator", description="Confluence Cloud emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run an emulated site on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--install", metavar="DESCRIPTOR_URL", help="install this app once the server is up")
    serve.add_argument("--pages", type=int, default=None, help="number of pages in the DOCS space")
    serve.add_argument("--seed", type=int, default=None, help="content seed (default: the port)")
    serve.add_argument("--site-name", default=None)
    serve.add_argument("--fault-429-rate", type=float, default=0.0)
    serve.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429/503")
    serve.add_argument("--fault-5xx-rate", type=float, default=0.0)
    serve.add_argument("--latency-ms", type=int, default=0)
    install = sub.add_parser("install", help="install an app from its descriptor URL")
    install.add_argument("descriptor_url")
    for name in ("uninstall", "enable", "disable", "reinstall"):
        action = sub.add_parser(name, help=f"{name} an installed app")
        action.add_argument("--app-key", required=True)
    sub.add_parser("apps", help="list installed apps")
    migrate = sub.add_parser("migrate", help="give the site a new clientKey and install every app afresh")
    migrate.add_argument("--client-key", default=None, help="the new clientKey (default: a random one)")
    rename = sub.add_parser("rename", help="give the site a new loopback baseUrl and re-send installed")
    rename.add_argument("--base-url", required=True, help="e.g. http://localhost:8080/wiki")
    for name in ("install", "uninstall", "enable", "disable", "reinstall", "apps", "migrate", "rename"):
        sub.choices[name].add_argument(
            "--emulator",
            default=DEFAULT_EMULATOR,
            help="emulator origin (default $EMULATOR_URL or http://127.0.0.1:8080)",
        )
    return parser


def _control(method: str, url: str, body: dict[str, str] | None = None) -> int:
    """Call a control endpoint, print its JSON answer, and turn the HTTP status into an exit code."""
    try:
        response = requests.request(method, url, json=body, timeout=60)
    except requests.RequestException as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(response.json() if response.content else {}, indent=2))
    return 0 if response.ok else 1


def _install_when_ready(origin: str, descriptor_url: str, deadline: float) -> None:
    """Retry the install until the app answers or the deadline passes (the app may still be starting)."""
    error = "not attempted"
    for _ in range(1000):
        if time.monotonic() > deadline:
            break
        try:
            response = requests.post(
                f"{origin}/_emulator/apps", json={"descriptorUrl": descriptor_url}, timeout=15
            )
            if response.ok:
                print(f"installed {response.json().get('key')} from {descriptor_url}", flush=True)
                return
            error = f"{response.status_code}: {response.text[:300]}"
        except requests.RequestException as exc:
            error = str(exc)
        time.sleep(0.5)
    print(f"giving up installing {descriptor_url}: {error}", file=sys.stderr, flush=True)


def serve(args: argparse.Namespace) -> int:
    """Run the emulator until interrupted."""
    faults = FaultSettings(
        rate_429=args.fault_429_rate,
        retry_after=args.retry_after,
        rate_5xx=args.fault_5xx_rate,
        latency_ms=args.latency_ms,
    )
    app = create_app(
        port=args.port, seed=args.seed, pages=args.pages, site_name=args.site_name, faults=faults
    )
    state = emulator_state(app)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"{state.site.name}: {state.site.base_url} (clientKey {state.site.client_key})", flush=True)
    print(
        f"  install keys: {state.origin}/install-keys   all.js: {state.origin}/atlassian-connect/all.js",
        flush=True,
    )
    if args.install:
        threading.Thread(
            target=_install_when_ready,
            daemon=True,
            args=(state.origin, args.install, time.monotonic() + INSTALL_WAIT_SECONDS),
        ).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m emulator``."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    origin = args.emulator.rstrip("/")
    if args.command == "install":
        return _control("POST", f"{origin}/_emulator/apps", {"descriptorUrl": args.descriptor_url})
    if args.command == "apps":
        return _control("GET", f"{origin}/_emulator/apps")
    if args.command == "migrate":
        body = {"clientKey": args.client_key} if args.client_key else None
        return _control("POST", f"{origin}/_emulator/site/migrate", body)
    if args.command == "rename":
        return _control("POST", f"{origin}/_emulator/site/rename", {"baseUrl": args.base_url})
    return _control("POST", f"{origin}/_emulator/apps/{args.app_key}/{args.command}")
