"""``create_app``: build an emulator Flask app for one site on one port (the only module wiring it all)."""

from __future__ import annotations

import secrets
import time

from flask import Flask, Response, request
from werkzeug.exceptions import NotFound

from emulator import (
    control,
    control_changes,
    errors,
    host,
    keys,
    oauth,
    rest_privacy,
    rest_v1,
    rest_v2,
    rest_v2_users,
)
from emulator.apps import AppRegistry
from emulator.errors import error_response, not_found
from emulator.faults import Faults, FaultSettings
from emulator.oauth import TokenStore
from emulator.restrictions import Access, seed_restrictions
from emulator.seed import build_site, default_seed
from emulator.state import EXTENSION_KEY, EmulatorState
from emulator.stats import Stats
from emulator.webhooks import WebhookSender


def create_app(
    *,
    port: int,
    seed: int | None = None,
    pages: int | None = None,
    site_name: str | None = None,
    faults: FaultSettings | None = None,
    now: float | None = None,
    host_name: str = "127.0.0.1",
    http_timeout: float = 10.0,
    webhook_timeout: float = 5.0,
) -> Flask:
    """Build the emulator for ``http://host_name:port``; ``emulator_state(app)`` exposes its state.

    :param pages: size of the DOCS space (default: its curated pages only).
    :param now: the instant content dates are relative to (default: the current time).
    :param webhook_timeout: seconds each webhook POST may take before it counts as failed.
    """
    seed = default_seed(port) if seed is None else seed
    site = build_site(
        origin=f"http://{host_name}:{port}",
        port=port,
        seed=seed,
        now=time.time() if now is None else now,
        name=site_name or f"Emulated Confluence on port {port}",
        docs_pages=pages,
    )
    app = Flask(__name__, static_url_path="/_emulator/static")
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = EmulatorState(
        site=site,
        signing_key=keys.generate_signing_key(),
        apps=AppRegistry(),
        tokens=TokenStore(),
        faults=Faults(faults or FaultSettings(), seed),
        stats=Stats(),
        cursor_secret=secrets.token_bytes(32),
        access=Access(site, seed_restrictions(site)),
        http_timeout=http_timeout,
        webhooks=WebhookSender(timeout=webhook_timeout),
    )
    errors.init_app(app)
    blueprints = (
        rest_v2.bp,
        rest_v2_users.bp,
        rest_v1.bp,
        rest_privacy.bp,
        keys.bp,
        oauth.bp,
        control.bp,
        control_changes.bp,
        host.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    @app.errorhandler(404)
    def _not_found(exc: NotFound) -> Response | NotFound:
        # Unknown REST paths answer like the API (JSON), everything else with Flask's page.
        if request.path.startswith(("/wiki/api/", "/wiki/rest/")):
            return error_response(not_found(f"No API route {request.path}"))
        return exc

    return app
