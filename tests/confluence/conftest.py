"""Fixtures: a served fake Confluence with data, tenant credentials, and clients as the app or a user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.confluence import ClientEvent, ClientSettings, ConfluenceClient, client_as_app
from app.tenants.credentials import Credentials
from tests.confluence.fake_confluence import OAUTH_CLIENT_ID, SECRET, FakeConfluence
from tests.kit.constants import APP_KEY
from tests.kit.live import serving

PAGES = 600  # 3 pages of 250 on /pages: enough to cross two cursors


def make_fake() -> FakeConfluence:
    fake = FakeConfluence()
    spaces = [
        {"id": str(i), "key": key, "name": key.title()} for i, key in enumerate(["ENG", "OPS", "HR"], 1)
    ]
    pages = [{"id": str(1000 + i), "spaceId": str(1 + i % 2), "title": f"Page {i}"} for i in range(PAGES)]
    fake.collections = {
        "/spaces": spaces,
        "/pages": pages,
        "/spaces/1/pages": [p for p in pages if p["spaceId"] == "1"],
        "/blogposts": [{"id": f"b{i}", "spaceId": "1", "title": f"Post {i}"} for i in range(30)],
        "/spaces/1/blogposts": [{"id": f"b{i}", "spaceId": "1", "title": f"Post {i}"} for i in range(30)],
        "/pages/1000/direct-children": [{"id": str(2000 + i), "type": "page"} for i in range(5)],
        "/pages/1000/descendants": [{"id": str(3000 + i), "type": "page", "depth": 1} for i in range(7)],
        "/pages/1000/labels": [{"id": "l1", "name": "stale", "prefix": "global"}],
        "/pages/1000/versions": [{"number": n} for n in range(3, 0, -1)],
    }
    fake.objects = {"/spaces/1": spaces[0], "/pages/1000": {**pages[0], "body": {}}}
    fake.users = {
        "admin-1": [{"operation": "administer", "targetType": "application"}],
        "user-1": [{"operation": "use", "targetType": "application"}],
    }
    return fake


class _Swappable:
    """A WSGI app that forwards to the current test's fake, so one server serves the whole session."""

    def __init__(self) -> None:
        self.target: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.target(environ, start_response)


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[str, _Swappable]]:
    # Starting and stopping a server per test costs ~0.3 s each (the shutdown poll), so share one.
    app = _Swappable()
    with serving(app) as server:
        yield server.url, app


@pytest.fixture
def fake_site(_server: tuple[str, _Swappable]) -> FakeConfluence:
    url, app = _server
    fake = make_fake()
    fake.site_url = url
    app.target = fake.wsgi()
    return fake


@pytest.fixture
def creds(fake_site: FakeConfluence) -> Credentials:
    return Credentials("tenant-1", fake_site.base_url, SECRET, OAUTH_CLIENT_ID)


@pytest.fixture
def settings(fake_site: FakeConfluence) -> ClientSettings:
    return ClientSettings(app_key=APP_KEY, oauth_url=fake_site.site_url, timeout=5.0, max_retry_after=1.0)


@pytest.fixture
def events() -> list[ClientEvent]:
    return []


@pytest.fixture
def confluence_client(
    creds: Credentials, settings: ClientSettings, events: list[ClientEvent]
) -> Iterator[ConfluenceClient]:
    with client_as_app(creds, settings, on_event=events.append) as confluence:
        yield confluence


@pytest.fixture
def sleeps() -> list[float]:
    """Waits requested by a client built with ``quick_client`` (which never really sleeps)."""
    return []


@pytest.fixture
def quick_client(
    creds: Credentials, settings: ClientSettings, sleeps: list[float]
) -> Iterator[Callable[..., ConfluenceClient]]:
    made: list[ConfluenceClient] = []

    def build(**overrides: object) -> ConfluenceClient:
        merged = ClientSettings(**{**settings.__dict__, **overrides})  # type: ignore[arg-type]
        made.append(client_as_app(creds, merged, sleep=sleeps.append))
        return made[-1]

    yield build
    for confluence in made:
        confluence.close()
