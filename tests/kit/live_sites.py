"""Live sites for end-to-end tests: emulators and the app on loopback ports, one install-keys and OAuth
hub for several sites, and the real signed install.

Everything here is bounded in time (deadlines, never open-ended waits) and closes what it opens.
The pytest fixtures that wrap these helpers live in ``tests/e2e/conftest.py``; Chromium helpers are in
``tests/kit/browser.py``.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl

import jwt
import requests
from flask import Flask

from app import create_app as create_connect_app
from app.db import get_engine
from emulator.server import create_app as create_emulator_app
from emulator.state import EmulatorState, emulator_state
from tests.kit.constants import APP_KEY
from tests.kit.database import create_schema
from tests.kit.jobs import running_worker
from tests.kit.live import LiveServer
from tests.kit.processes import app_env, flask, free_port
from tests.kit.redis_server import running_redis
from tests.kit.store import snapshot

MACRO_MODULE: Final = "freshness-report"
ADMIN_MODULE: Final = "freshness-admin"

#: Seconds any single HTTP call of the kit may take.
HTTP_TIMEOUT: Final = 30.0

T = TypeVar("T")


# --------------------------------------------------------------------------------------------------
# Live servers on ports chosen up front
# --------------------------------------------------------------------------------------------------


def serve_on_free_port(build: Callable[[int], T], *, attempts: int = 5) -> tuple[T, LiveServer]:
    """Build a WSGI app that must know its port (``build(port)``), then serve it on that port.

    A port that was free a moment ago can be taken before we bind it; then pick another (bounded).
    """
    last_error: OSError | None = None
    for _ in range(attempts):
        port = free_port()
        app = build(port)
        try:
            server = LiveServer(app, port)
        except OSError as exc:  # taken in between; try another port
            last_error = exc
            continue
        return app, server.start()
    raise RuntimeError(f"no free loopback port after {attempts} attempts") from last_error


@dataclass
class RunningEmulator:
    """An emulator (a Confluence site) listening on ``url``; its ``baseUrl`` is ``url + '/wiki'``."""

    app: Flask
    server: LiveServer

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return self.server.url

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``: how the app names this site (``Tenant.site_name``)."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The site's Connect ``baseUrl``."""
        return f"{self.url}/wiki"

    @property
    def state(self) -> EmulatorState:
        """The emulator's in-process state (installed apps and their shared secrets, site content)."""
        return emulator_state(self.app)

    def shared_secret(self, app_key: str = APP_KEY) -> str:
        """The shared secret the site gave ``app_key`` at install (never exposed over HTTP)."""
        record = self.state.apps.get(app_key)
        if record is None:
            raise LookupError(f"{app_key} is not installed on {self.url}")
        return record.shared_secret

    def site_info(self) -> dict[str, Any]:
        """``GET /_emulator/site``: name, baseUrl, clientKey, users, spaces (with homepageId), …"""
        response = requests.get(f"{self.url}/_emulator/site", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        info: dict[str, Any] = response.json()
        return info

    def space_home_url(self, space_key: str = "DOCS") -> str:
        """The host page of a space's home page, which carries every enabled app's macro."""
        space = self.state.site.space_by_key(space_key)
        if space is None:
            raise LookupError(f"no space {space_key} on {self.url}")
        return f"{self.url}/wiki/spaces/{space_key}/pages/{space.homepage_id}"

    def module_page_url(self, module_key: str, app_key: str = APP_KEY) -> str:
        """The host page that frames a page module (admin, general, configure)."""
        return f"{self.url}/wiki/plugins/servlet/ac/{app_key}/{module_key}"

    def set_faults(self, **faults: float) -> dict[str, Any]:
        """``POST /_emulator/faults`` (merged): fault429Rate, fault5xxRate, retryAfter, latencyMs."""
        response = requests.post(f"{self.url}/_emulator/faults", json=faults, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def clear_faults(self) -> dict[str, Any]:
        """Every REST call answers normally again."""
        return self.set_faults(fault429Rate=0.0, fault5xxRate=0.0, latencyMs=0)

    def set_macro_params(
        self,
        page_id: int | str,
        params: Mapping[str, str],
        module_key: str = MACRO_MODULE,
        app_key: str = APP_KEY,
    ) -> None:
        """Store macro parameter values for a page (the page then carries that macro)."""
        response = requests.post(
            f"{self.url}/_emulator/pages/{page_id}/macro-params",
            json={"appKey": app_key, "moduleKey": module_key, "params": dict(params)},
            timeout=HTTP_TIMEOUT,
        )
        response.raise_for_status()

    def context_token(
        self,
        account_id: str,
        *,
        space_key: str | None = None,
        page_id: int | str | None = None,
        app_key: str = APP_KEY,
    ) -> str:
        """A context JWT (``qsh=context-qsh``) for ``account_id``, minted as the host page's script does."""
        body: dict[str, str] = {"appKey": app_key, "accountId": account_id}
        if space_key is not None:
            body["spaceKey"] = space_key
        if page_id is not None:
            body["pageId"] = str(page_id)
        response = requests.post(f"{self.url}/wiki/_emulator/context-token", json=body, timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, f"context token refused: {response.status_code} {response.text}"
        token: str = response.json()["token"]
        return token


@contextmanager
def running_emulator(
    *, seed: int | None = None, pages: int | None = None, site_name: str | None = None, **kwargs: Any
) -> Iterator[RunningEmulator]:
    """Serve a fresh emulator on a free loopback port (``kwargs`` go to ``emulator.server.create_app``)."""
    app, server = serve_on_free_port(
        lambda port: create_emulator_app(port=port, seed=seed, pages=pages, site_name=site_name, **kwargs)
    )
    try:
        yield RunningEmulator(app, server)
    finally:
        server.stop()


class InstallKeysHub:
    """One install-keys service and one OAuth authorization server for several emulators, as Atlassian
    has one of each for every site.

    Each emulator signs installs with its own RSA key and serves only that key, while the app fetches
    keys from the single ``INSTALL_KEYS_URL``; an app installed into two emulators points there.
    ``GET /<kid>`` answers the public PEM of whichever added emulator issued ``kid``.

    Likewise the app asks one ``APP_OAUTH_URL`` for user tokens of every site. ``POST /oauth2/token``
    finds the emulator whose installed app owns the assertion's ``oauthClientId``, verifies the
    assertion with that app's shared secret and this hub as audience (as Atlassian's server would),
    then forwards the same claims, re-signed for that emulator's own audience, and returns its answer.
    """

    def __init__(self) -> None:
        self._emulators: list[RunningEmulator] = []
        self._server = LiveServer(self._wsgi)
        self.url = self._server.url

    def add(self, emulator: RunningEmulator) -> None:
        self._emulators.append(emulator)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/token" and environ.get("REQUEST_METHOD") == "POST":
            return self._token(environ, start_response)
        kid = path.lstrip("/")
        for emulator in self._emulators:
            key = emulator.state.signing_key
            if key.kid == kid:
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [key.public_pem.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown kid"]

    def _token(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = dict(parse_qsl(environ["wsgi.input"].read(min(size, 65536)).decode()))
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            client_id = str(unverified.get("iss", "")).removeprefix("urn:atlassian:connect:clientid:")
            emulator, record = next(
                (e, r)
                for e in self._emulators
                if (r := e.state.apps.by_oauth_client_id(client_id)) is not None
            )
            claims = jwt.decode(assertion, record.shared_secret, algorithms=["HS256"], audience=self.url)
        except (jwt.InvalidTokenError, StopIteration):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"error": "invalid_grant"}']
        form["assertion"] = jwt.encode(
            {**claims, "aud": emulator.url}, record.shared_secret, algorithm="HS256"
        )
        answer = requests.post(f"{emulator.url}/oauth2/token", data=form, timeout=HTTP_TIMEOUT)
        start_response(f"{answer.status_code} {answer.reason}", [("Content-Type", "application/json")])
        return [answer.content]

    def start(self) -> InstallKeysHub:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def running_install_keys_hub(*emulators: RunningEmulator) -> Iterator[InstallKeysHub]:
    hub = InstallKeysHub().start()
    for emulator in emulators:
        hub.add(emulator)
    try:
        yield hub
    finally:
        hub.stop()


def app_config(app_url: str, emulator_url: str, database_url: str, jobs_path: str) -> dict[str, Any]:
    """The app's settings for talking to an emulator (as ``scripts/dev`` sets them)."""
    return {
        "TESTING": True,
        "JOBS_SQLITE_PATH": jobs_path,
        "DATABASE_URL": database_url,
        "BASE_URL": app_url,
        "KEY": APP_KEY,
        "SECRET_KEY": "e2e-secret-key",
        "INSTALL_KEYS_URL": f"{emulator_url}/install-keys",
        "OAUTH_URL": emulator_url,
        "ALL_JS_URL": f"{emulator_url}/atlassian-connect/all.js",
        "ALLOWED_TENANT_HOSTS": ["127.0.0.1"],
    }


def app_process_env(app_url: str, emulator_url: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of an app *process* (gunicorn, ``flask worker``) talking to an emulator: the
    ``APP_*`` variables of :func:`app_config`'s connection settings, plus ``extra`` (``APP_…`` names)."""
    return app_env(
        {
            "APP_BASE_URL": app_url,
            "APP_DATABASE_URL": database_url,
            "APP_INSTALL_KEYS_URL": f"{emulator_url}/install-keys",
            "APP_OAUTH_URL": emulator_url,
            "APP_ALL_JS_URL": f"{emulator_url}/atlassian-connect/all.js",
            "APP_ALLOWED_TENANT_HOSTS": '["127.0.0.1"]',
            "APP_KEY": APP_KEY,
            **extra,
        }
    )


@dataclass
class RunningApp:
    """Our Connect app listening on ``url`` (its ``BASE_URL``)."""

    app: Flask
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def descriptor_url(self) -> str:
        return f"{self.url}/atlassian-connect.json"

    def tenants(self) -> list[dict[str, Any]]:
        """Every tenant row (all columns, secrets included), in clientKey order."""
        return snapshot(self.app)

    def tenant(self, client_key: str) -> dict[str, Any] | None:
        return next((t for t in self.tenants() if t["client_key"] == client_key), None)


@contextmanager
def running_app(
    database_url: str,
    emulator_url: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    worker: bool = True,
) -> Iterator[RunningApp]:
    """Serve the app on a free port, on a fresh schema at ``database_url``, pointed at an emulator.

    The install-keys, OAuth and all.js URLs name ``emulator_url``. An emulator serves only its own
    install key, so to install one app into several emulators pass ``overrides={"INSTALL_KEYS_URL":
    hub.url}`` with an :class:`InstallKeysHub` that knows them all. With ``worker`` (the default) a
    thread runs the app's jobs (scans), as ``flask worker`` does beside a real deployment.
    """
    create_schema(database_url)
    jobs_dir = tempfile.TemporaryDirectory(prefix="jobs-")

    def build(port: int) -> Flask:
        config = app_config(
            f"http://127.0.0.1:{port}", emulator_url, database_url, f"{jobs_dir.name}/jobs.db"
        )
        config.update(overrides or {})
        return create_connect_app(config)

    app, server = serve_on_free_port(build)
    try:
        with running_worker(app) if worker else nullcontext():
            yield RunningApp(app, server)
    finally:
        server.stop()
        get_engine(app).dispose()
        jobs_dir.cleanup()


def install_app(emulator: RunningEmulator, app: RunningApp) -> dict[str, Any]:
    """Install ``app`` into ``emulator`` through the real signed lifecycle; return the site info.

    The emulator fetches the descriptor, signs ``installed`` with its RSA key and posts it; the app
    fetches the public key from its ``INSTALL_KEYS_URL``. Fails with the emulator's answer otherwise.
    """
    response = requests.post(
        f"{emulator.url}/_emulator/apps", json={"descriptorUrl": app.descriptor_url}, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 201, (
        f"install into {emulator.url} failed: {response.status_code} {response.text}"
    )
    return emulator.site_info()


@dataclass
class ProcessSite:
    """What an app deployment of real processes needs: Redis, an emulator, a port, its environment."""

    emulator: RunningEmulator
    port: int
    env: dict[str, str]

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def process_site(tmp_path: Path, database_url: str, *, pages: int, **env_extra: str) -> Iterator[ProcessSite]:
    """Start Redis and an emulator of ``pages`` pages; yield the ``APP_*`` environment of an app on a free
    port that uses both, its own job queue on that Redis, and ``database_url``, migrated."""
    with ExitStack() as stack:
        redis_url = stack.enter_context(running_redis(tmp_path))
        emulator = stack.enter_context(running_emulator(pages=pages))
        port = free_port()
        env = app_process_env(
            f"http://127.0.0.1:{port}",
            emulator.url,
            database_url,
            APP_REDIS_URL=redis_url,
            APP_JOBS_NAME=f"test-{uuid.uuid4().hex[:8]}",
            **env_extra,
        )
        migrated = flask("db", "upgrade", env=env)
        assert migrated.returncode == 0, migrated.stderr
        yield ProcessSite(emulator, port, env)
