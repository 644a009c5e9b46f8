"""A loopback Confluence for tests: the project's emulator, with apps registered directly.

Unit tests drive the app through Flask's test client, so the emulator cannot install it over HTTP;
instead the kit registers the app's key and the test site's shared secret in the emulator, which then
verifies our outbound JWTs (with atlassian-jwt) exactly as after a real install.
"""

from __future__ import annotations

from typing import Any, Final

import requests

from emulator.apps import AppRecord
from emulator.server import create_app as create_emulator
from emulator.state import EmulatorState, emulator_state
from tests.kit.live import LiveServer
from tests.kit.processes import free_port

#: The emulator's users (the same on every emulator; see docs/emulator.md).
ADMIN_ACCOUNT: Final = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000001"
USER_ACCOUNT: Final = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000002"


def is_scan_call(route: str) -> bool:
    """An emulator stats route that is a scan's list call (a space's pages or blog posts), not a
    viewer's ``GET /pages?id=…`` check."""
    return "/spaces/<" in route and route.endswith(("/pages", "/blogposts"))


def scan_list_calls(origin: str, http: Any = requests) -> int:
    """How many scan list calls the emulator at ``origin`` has answered (its stats, by route)."""
    routes = http.get(f"{origin}/_emulator/stats", timeout=10).json()["routes"]
    return sum(count for route, count in routes.items() if is_scan_call(route))


def register_app(
    state: EmulatorState,
    *,
    key: str,
    secret: str,
    base_url: str,
    scopes: tuple[str, ...] = ("READ", "ACT_AS_USER"),
    modules: dict[str, Any] | None = None,
    lifecycle: str = "/lifecycle/installed",
    oauth_client_id: str | None = None,
) -> AppRecord:
    """Put an app straight into an emulator's registry, skipping the lifecycle."""
    record = AppRecord(
        key=key,
        descriptor_url=f"{base_url}/atlassian-connect.json",
        descriptor={
            "key": key,
            "baseUrl": base_url,
            "authentication": {"type": "jwt"},
            "lifecycle": {"installed": lifecycle},
            "scopes": list(scopes),
            "modules": modules or {},
        },
        shared_secret=secret,
        oauth_client_id=oauth_client_id or f"oauth-{key}",
        installation_id="ari:test",
    )
    state.apps.put(record)
    return record


class FakeConfluence:
    """An emulator on a loopback port; ``base_url`` is its tenant base URL (with ``/wiki``)."""

    def __init__(self, *, pages: int | None = None, seed: int = 4242) -> None:
        port = free_port()
        # A fixed seed: the same content on every run, whatever port the emulator gets.
        self.app = create_emulator(port=port, pages=pages, seed=seed)
        self.server = LiveServer(self.app, port)
        self.origin = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.origin}/wiki"

    @property
    def state(self) -> EmulatorState:
        return emulator_state(self.app)

    def register(
        self,
        app_key: str,
        shared_secret: str,
        app_base_url: str = "https://app.example.test",
        *,
        oauth_client_id: str | None = None,
    ) -> None:
        """Make the emulator accept tokens signed by ``app_key`` with ``shared_secret`` (and, for acting
        as a user, OAuth assertions from ``oauth_client_id``)."""
        register_app(
            self.state,
            key=app_key,
            secret=shared_secret,
            base_url=app_base_url,
            oauth_client_id=oauth_client_id,
        )

    def start(self) -> FakeConfluence:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
