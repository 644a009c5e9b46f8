"""A signed install whose key cannot be fetched (key service down, silent or slow) is a quick 401:
never a 5xx, never a hang. The fetch is bounded by ``APP_INSTALL_KEYS_TIMEOUT``."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from app.config import DEFAULTS
from tests.kit.atlassian import Atlassian, Site
from tests.kit.constants import APP_BASE_URL, APP_KEY
from tests.kit.processes import free_port
from tests.kit.store import snapshot
from tests.security.conftest import AppFactory, assert_security_headers

TIMEOUT = 0.5


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_server_url() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (a hung key service)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_default_timeout_is_bounded() -> None:
    assert 0 < DEFAULTS["INSTALL_KEYS_TIMEOUT"] <= 10


@pytest.mark.parametrize("service", ["closed_port_url", "silent_server_url"])
@pytest.mark.parametrize("event", ["installed", "uninstalled"])
def test_unfetchable_install_key_is_a_quick_401(
    make_app: AppFactory,
    atlassian: Atlassian,
    site: Site,
    request: pytest.FixtureRequest,
    service: str,
    event: str,
) -> None:
    app = make_app(INSTALL_KEYS_URL=request.getfixturevalue(service), INSTALL_KEYS_TIMEOUT=TIMEOUT)
    client = app.test_client()
    url = f"/lifecycle/{event}"
    token = atlassian.install_token(site, audience=APP_BASE_URL, url=url, kid="kid-unfetchable")
    before = snapshot(app)
    for attempt in range(2):  # the second one answers from the short failure cache
        started = time.monotonic()
        response = client.post(
            url, json=site.payload(event, app_key=APP_KEY), headers={"Authorization": f"JWT {token}"}
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 401, (attempt, response.get_data(as_text=True))
        assert elapsed < TIMEOUT + 1.0, (attempt, elapsed)
        assert_security_headers(response, config=app.config)
        assert token not in response.get_data(as_text=True)
    assert snapshot(app) == before
