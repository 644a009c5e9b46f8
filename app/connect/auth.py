"""The inbound-JWT view decorator: authenticate a request from Confluence and set ``g.tenant``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Final, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, g, request

from app import clock
from app.connect import tokens
from app.connect.qsh import parse_query, query_string_hash_of_params
from app.connect.requests_info import raw_path, raw_query, token_of
from app.connect.stores import tenant_store
from app.connect.tenant_cache import tenant_cache
from app.contexts import active_app
from app.tenants.snapshot import TenantSnapshot

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., object])

#: Every method reaches an authenticated view, so that a request without a valid token is a 401
#: whatever its method, and only then a 405 (no route may answer an unsigned call with anything else).
ANY_METHOD: Final = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

#: The attribute that records how a view authenticates; ``enforce_authentication`` requires it.
_AUTH_MARK: Final = "connect_authentication"


def authenticated_by(kind: str) -> Callable[[F], F]:
    """Mark a view that authenticates itself (e.g. signed install), or ``"public"`` on purpose."""

    def mark(view: F) -> F:
        setattr(view, _AUTH_MARK, kind)
        return view

    return mark


def enforce_authentication(app: Flask) -> None:
    """Refuse to start if any route neither requires a JWT nor says why it need not (default deny)."""
    unmarked = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not getattr(view, _AUTH_MARK, None)
    )
    if unmarked:
        raise RuntimeError(
            f"routes without authentication: {', '.join(unmarked)}; "
            "decorate them with @require_jwt() or @authenticated_by(...)"
        )


def now_seconds() -> int:
    """Return the app's current time in whole seconds (``app/clock.py``)."""
    return clock.now_seconds()


def expected_qsh(query: Sequence[tuple[str, str]] | None = None) -> str:
    """Return the qsh of the current request, relative to the path of the app's base URL.

    :param query: the raw query already decoded with ``parse_query`` (parsed once per request).
    """
    params = parse_query(raw_query(request)) if query is None else query
    return query_string_hash_of_params(request.method, raw_path(request), params, _base_path())


def _base_path() -> str:
    return _path_of(str(active_app().config["BASE_URL"]))


@functools.lru_cache(maxsize=64)
def _path_of(url: str) -> str:
    return urlsplit(url).path


class NotWarm(Exception):
    """This process's copies cannot settle the request; Flask's request cycle answers it instead."""


def verify_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    authorization: str,
    *,
    allow_context_qsh: bool = False,
    warm_only: bool = False,
) -> tuple[TenantSnapshot, tokens.Claims]:
    """Verify a request's HS256 token against an installed tenant; return the tenant and the claims.

    The tenant comes from the process's tenant cache when it holds a young enough copy
    (``app/connect/tenant_cache.py``), else from the store. Raises a ConnectAuthError subclass (401)
    on any failure. Needs an app context, not a request.

    :param path: the raw path (``raw_path_of``); ``query``: the raw query decoded by ``parse_query``.
    :param authorization: the ``Authorization`` header ("" without one).
    :param warm_only: raise :class:`NotWarm` instead of reading the store (the hot path,
        ``app/hot_path.py``): a tenant not cached, or a signature that fails against a cached secret.
    """
    cache = tenant_cache()
    found: dict[str, TenantSnapshot] = {}
    from_cache = False

    def read(client_key: str) -> str | None:
        if warm_only:
            raise NotWarm()
        tenant = cache.load(client_key, tenant_store().get_installed)
        if tenant is None:
            return None
        found[client_key] = tenant
        return tenant.shared_secret

    def secret_for(client_key: str) -> str | None:
        nonlocal from_cache
        tenant = cache.get(client_key)
        if tenant is None:
            return read(client_key)
        from_cache = True
        found[client_key] = tenant
        return tenant.shared_secret

    def reread_secret(client_key: str) -> str | None:
        # Only a cached secret may be out of date; one read just now is not read again.
        return read(client_key) if from_cache else found[client_key].shared_secret

    claims = tokens.verify_host_token(
        token_of([value for name, value in query if name == "jwt"], authorization),
        secret_for=secret_for,
        # computed only for a token whose signature holds
        expected_qsh=lambda: query_string_hash_of_params(method, path, query, _base_path()),
        now=now_seconds(),
        allow_context_qsh=allow_context_qsh,
        reread_secret=reread_secret,
    )
    return found[claims["iss"]], claims


def account_of(claims: tokens.Claims) -> str | None:
    """The viewer's account id (the token's ``sub``), or None for an anonymous viewer."""
    subject = claims.get("sub")
    return subject if isinstance(subject, str) and subject else None


def authenticate_request(*, allow_context_qsh: bool = False) -> None:
    """Verify the request's HS256 token (:func:`verify_request`); set ``g.tenant``, ``g.claims`` and
    ``g.account_id``. ``g.tenant`` is a :class:`~app.tenants.snapshot.TenantSnapshot`. Raises a
    ConnectAuthError subclass (401) on any failure; the error handler answers it.
    """
    query = parse_query(raw_query(request))  # once: for the token and for the qsh
    tenant, claims = verify_request(
        request.method,
        raw_path(request),
        query,
        request.headers.get("Authorization", ""),
        allow_context_qsh=allow_context_qsh,
    )
    _share_parsed_query(query)
    g.tenant = tenant
    g.claims = claims
    g.account_id = account_of(claims)


def _share_parsed_query(query: Sequence[tuple[str, str]]) -> None:
    """Let ``request.args`` be the query parsed for the qsh, so a request's query is parsed once.

    Both are ``parse_qsl`` with blank values kept over the same text; they differ only on bytes that
    are not UTF-8, which the qsh's parse turns into U+FFFD and Werkzeug keeps percent-encoded. A query
    with any U+FFFD is left to Werkzeug.
    """
    current = request._get_current_object()  # type: ignore[attr-defined]
    if "args" in current.__dict__ or any("\ufffd" in name or "\ufffd" in value for name, value in query):
        return
    current.args = current.parameter_storage_class(query)


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

        setattr(wrapped, _AUTH_MARK, "context-qsh" if allow_context_qsh else "qsh")
        return wrapped

    return decorator
