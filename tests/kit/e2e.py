"""End-to-end kit: a live emulator and a live app on loopback ports, the real install, and Chromium.

Everything here is bounded in time (deadlines, never open-ended waits) and closes what it opens.
The pytest fixtures that wrap these helpers live in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
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
from tests.kit.processes import REPO, free_port
from tests.kit.store import snapshot

if TYPE_CHECKING:
    from playwright.sync_api import ElementHandle, Frame, Page, Response

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots and other browser evidence (gitignored).
ARTIFACTS: Final = REPO / "test-artifacts"
#: Set to 1 (CI does) to turn a missing browser into a failure instead of a skip.
REQUIRE_BROWSER_ENV: Final = "REQUIRE_BROWSER"

MACRO_MODULE: Final = "freshness-report"
ADMIN_MODULE: Final = "freshness-admin"

#: Seconds any single HTTP call of the kit may take.
HTTP_TIMEOUT: Final = 30.0
#: Default bound for browser waits, in seconds.
BROWSER_TIMEOUT: Final = 15.0

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


# --------------------------------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------------------------------


def browser_required() -> bool:
    return os.environ.get(REQUIRE_BROWSER_ENV) == "1"


def skip_or_fail_without_browser() -> None:
    """Skip (or, with ``REQUIRE_BROWSER=1``, fail) when Chromium or Playwright is unavailable."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "browser tests need the playwright package (pip install -e '.[dev]')"
    if problem is None:
        return
    if browser_required():
        pytest.fail(f"{problem}; {REQUIRE_BROWSER_ENV}=1 forbids skipping", pytrace=False)
    pytest.skip(problem)


def artifact_path(name: str, suffix: str = ".png") -> Path:
    """A file under ``test-artifacts/`` with a filesystem-safe version of ``name``."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "artifact"
    return ARTIFACTS / f"{safe}{suffix}"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>.png`` and return its path."""
    path = artifact_path(name)
    page.screenshot(path=str(path), full_page=True)
    return path


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def html_shows_site(html: str, host_port: str) -> bool:
    """Like :meth:`ModuleFrame.shows_site` for an HTML document fetched without a browser.

    Only text and ``<a href>`` count: the all.js ``<script src>`` names whichever emulator serves it.
    """
    parser = _Links()
    parser.feed(html)
    parser.close()
    return host_port in "".join(parser.text) or any(urlsplit(h).netloc == host_port for h in parser.hrefs)


def module_iframe_selector(module_key: str, app_key: str = APP_KEY) -> str:
    """CSS for the host page's iframe of one app module."""
    return f'iframe.ap-iframe[data-ap-app-key="{app_key}"][data-ap-module-key="{module_key}"]'


@dataclass
class ModuleFrame:
    """An app module framed by a host page: the ``<iframe>`` element, its frame, and the status it got."""

    element: ElementHandle
    frame: Frame
    status: int | None

    def text(self) -> str:
        """The frame's visible text."""
        return self.frame.locator("body").inner_text()

    def links(self) -> list[str]:
        """Every link target in the frame, as absolute URLs."""
        hrefs: list[str] = self.frame.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        return hrefs

    def shows_site(self, host_port: str) -> bool:
        """Whether the frame names the site ``host:port`` in its text or links to a page there."""
        return host_port in self.text() or any(urlsplit(h).netloc == host_port for h in self.links())


def module_frame(
    page: Page, module_key: str = MACRO_MODULE, *, app_key: str = APP_KEY, timeout: float = BROWSER_TIMEOUT
) -> tuple[ElementHandle, Frame]:
    """Wait (bounded) for the module's iframe to be attached and its document loaded."""
    ms = timeout * 1000
    element = page.wait_for_selector(
        module_iframe_selector(module_key, app_key), state="attached", timeout=ms
    )
    if element is None:  # pragma: no cover - wait_for_selector raises on timeout
        raise TimeoutError(f"no iframe for {module_key}")
    frame = element.content_frame()
    deadline = time.monotonic() + timeout
    while frame is None or frame.url in ("", "about:blank"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {module_key} iframe did not navigate within {timeout} s")
        page.wait_for_timeout(50)
        frame = element.content_frame()
    frame.wait_for_load_state("load", timeout=ms)
    return element, frame


#: The macro's "first scan under way" section; its script swaps the report in when it is ready.
SCANNING_SELECTOR: Final = ".freshness.scanning"


def wait_for_report(frame: Frame, *, timeout: float = BROWSER_TIMEOUT) -> None:
    """Wait (bounded) until a macro frame shows a report, not the progress of its first scan."""
    frame.wait_for_function(
        "(sel) => document.querySelector(sel) === null", arg=SCANNING_SELECTOR, timeout=timeout * 1000
    )


def open_module(
    page: Page,
    url: str,
    module_key: str = MACRO_MODULE,
    *,
    app_key: str = APP_KEY,
    timeout: float = BROWSER_TIMEOUT,
    until_report: bool = True,
) -> ModuleFrame:
    """Load a host page and return the module's frame with the HTTP status of its document.

    For the macro, ``until_report`` (the default) also waits until its report is shown: a scope's
    first render shows the scan's progress and swaps the report in when the job has run.
    """
    documents: list[Response] = []

    def record(response: Response) -> None:
        if response.request.resource_type == "document":
            documents.append(response)

    page.on("response", record)
    try:
        page.goto(url, timeout=timeout * 1000)
        element, frame = module_frame(page, module_key, app_key=app_key, timeout=timeout)
    finally:
        page.remove_listener("response", record)
    status = next((r.status for r in documents if r.frame == frame), None)
    if status is None:
        status = next((r.status for r in documents if r.url == frame.url), None)
    if until_report and module_key == MACRO_MODULE and status == 200:
        wait_for_report(frame, timeout=timeout)
    return ModuleFrame(element, frame, status)


def wait_for_resize(
    page: Page, module_key: str = MACRO_MODULE, *, app_key: str = APP_KEY, timeout: float = BROWSER_TIMEOUT
) -> float:
    """Wait (bounded) until all.js has resized the module's iframe; return its rendered height in px."""
    selector = module_iframe_selector(module_key, app_key)
    page.wait_for_function(
        "(sel) => document.querySelector(sel)?.hasAttribute('data-ap-resized') === true",
        arg=selector,
        timeout=timeout * 1000,
    )
    box = page.locator(selector).bounding_box(timeout=timeout * 1000)
    if box is None:
        raise AssertionError(f"the {module_key} iframe is not displayed")
    return float(box["height"])
