"""A tiny Connect app that receives webhooks and checks each one with Atlassian's own ``atlassian_jwt``.

It is served under ``/app`` (so the qsh must be relative to the baseUrl path) and records every POST as a
:class:`Received`, with the verified claims or the reason verification failed. Tests set
``app.config["SECRETS"]`` ({clientKey: sharedSecret}) and may set ``STATUS`` (the answer) and ``DELAY``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import atlassian_jwt
from flask import Flask, request

BASE_PATH = "/app"


@dataclass
class Received:
    """One webhook POST as the app saw it."""

    path: str  # relative to the app baseUrl, with the query
    claims: dict[str, Any] | None
    error: str
    body: bytes
    content_type: str | None

    def json(self) -> Any:
        return json.loads(self.body)


class _Tenants(atlassian_jwt.Authenticator):  # type: ignore[misc]
    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(leeway=0)
        self.secrets = secrets

    def get_shared_secret(self, client_key: str) -> str:
        return self.secrets[client_key]


def make_receiver() -> Flask:
    """The receiving app; ``app.config["RECEIVED"]`` is the list of :class:`Received`, guarded by ``LOCK``."""
    app = Flask(__name__)
    app.config.update(SECRETS={}, RECEIVED=[], STATUS=204, DELAY=0.0, LOCK=threading.Lock())

    @app.post(f"{BASE_PATH}/<path:path>")
    def hook(path: str) -> tuple[str, int]:
        query = request.query_string.decode()
        relative = f"/{path}?{query}" if query else f"/{path}"
        claims: dict[str, Any] | None = None
        error = ""
        try:
            _, claims = _Tenants(app.config["SECRETS"]).authenticate("POST", relative, dict(request.headers))
        except Exception as exc:  # record why, answer like a strict app
            error = f"{type(exc).__name__}: {exc}"
        with app.config["LOCK"]:
            app.config["RECEIVED"].append(
                Received(relative, claims, error, request.get_data(), request.headers.get("Content-Type"))
            )
        time.sleep(app.config["DELAY"])
        return ("", app.config["STATUS"]) if not error else ("bad token", 401)

    return app


def received(app: Flask) -> list[Received]:
    """A copy of what the app received so far."""
    with app.config["LOCK"]:
        return list(app.config["RECEIVED"])
