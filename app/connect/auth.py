"""The inbound-JWT view decorator: authenticate a request from Confluence and set ``g.tenant``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, request

from app.connect import tokens
from app.connect.qsh import query_string_hash
from app.connect.requests_info import raw_path, raw_query, token_from
from app.db import get_session
from app.errors import UnknownIssuerError
from app.tenants.store import TenantStore

P = ParamSpec("P")
R = TypeVar("R")


def now_seconds() -> int:
    """Return the app's current time in whole seconds (``CLOCK`` in config, for tests)."""
    clock: Callable[[], float] = current_app.config["CLOCK"]
    return int(clock())


def expected_qsh() -> str:
    """Return the qsh of the current request, relative to the path of the app's base URL."""
    base_path = urlsplit(current_app.config["BASE_URL"]).path
    return query_string_hash(request.method, raw_path(request), raw_query(request), base_path)


def authenticate_request(*, allow_context_qsh: bool = False) -> None:
    """Verify the request's HS256 token against an installed tenant; set ``g.tenant`` and ``g.claims``.

    Raises a ConnectAuthError subclass (401) on any failure; the error handler answers it.
    """
    store = TenantStore(get_session())
    claims = tokens.verify_host_token(
        token_from(request),
        secret_for=store.secret_for,
        expected_qsh=expected_qsh(),
        now=now_seconds(),
        allow_context_qsh=allow_context_qsh,
    )
    tenant = store.get_installed(claims["iss"])
    if tenant is None:  # uninstalled between the two reads
        raise UnknownIssuerError(claims["iss"])
    g.tenant = tenant
    g.claims = claims
    subject = claims.get("sub")
    g.account_id = subject if isinstance(subject, str) and subject else None


def require_jwt(*, allow_context_qsh: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """View decorator: authenticate the Connect JWT before the view runs.

    Routes named in the descriptor use the default (a qsh computed from this exact request).
    Routes called from iframe JavaScript with ``AP.context.getToken()`` pass
    ``allow_context_qsh=True`` and then accept *only* the literal ``context-qsh``.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            authenticate_request(allow_context_qsh=allow_context_qsh)
            return view(*args, **kwargs)

        return wrapped

    return decorator
