"""Warm iframe loads answered below Flask's request cycle (docs/architecture.md, "The hot path").

Flask's own request cycle (request and response objects, routing, hooks, header structures) costs about
as much CPU as everything a warm macro load needs besides it. This WSGI layer answers the loads that
need none of it: a GET or HEAD of a route the app registered with :func:`route`, whose token verifies
against this process's tenant cache, and whose handler can answer from this process's copies. Every
other request, and any request the layer cannot settle, goes to Flask untouched: the layer is an
optimisation, never a second behaviour.

What a hot answer shares with Flask's, so that the two are the same answer (``tests/test_hot_path.py``
compares them header by header and byte by byte):

* authentication: :func:`app.connect.auth.verify_request` (PyJWT, the qsh, the tenant cache), with
  ``warm_only`` so that it never reads the store: a tenant not cached, or a signature that fails
  against a cached secret, goes to Flask, which reads the store;
* a refused token: the same iframe error page (from the same memo), status, ``WWW-Authenticate``,
  refusal count and "refused" log line as ``app/error_pages.py``;
* headers: ``app/http_headers.py``'s security headers for the verified tenant, and the request id;
* counting and the request log line: ``app/observability/web.py``'s :func:`record_request`.

A handler gets a :class:`HotRequest` inside an app context (``g.tenant``, ``g.account_id`` and
``g.claims`` set as ``require_jwt`` sets them) and returns the page as UTF-8 bytes (a memo keeps them
so, ``app/page_memo.py``), or ``None`` to let Flask answer.
It may read (its copies, the database) before it decides; it must return ``None`` before doing
anything with an effect (queueing, writing, counting), since Flask then does the request again. A page
it has to render (a memo miss) is rendered in a real request context (:meth:`HotRequest.in_request_context`).

Off for an app in debug mode (Flask's production guard must see every request), with
``APP_HOT_PATH=false``, and with ``APP_HOT_CACHE_SECONDS=0`` (nothing is ever warm).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from flask import Flask

from app import error_pages, http_headers
from app.connect import auth
from app.connect.qsh import parse_query
from app.connect.requests_info import raw_path_of, raw_query_of
from app.contexts import context_globals
from app.errors import ConnectAuthError
from app.observability import logs, metrics
from app.observability.web import record_request
from app.tenants.snapshot import TenantSnapshot

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_EXTENSION: Final = "hot_routes"
_METHODS: Final = frozenset({"GET", "HEAD"})
#: Set by Werkzeug's interactive debugger on every request (``app/proxy.py``'s guard must see those).
_DEBUGGER_KEY: Final = "werkzeug.debug.preserve_context"
_HTML: Final = "text/html; charset=utf-8"


@dataclass
class HotRequest:
    """What a hot handler knows of its request: the verified tenant and viewer, and the query."""

    environ: dict[str, Any]
    app: Flask
    tenant: TenantSnapshot
    claims: dict[str, Any]
    account_id: str | None
    query: list[tuple[str, str]]

    @functools.cached_property
    def args(self) -> dict[str, str]:
        """The query's first value of each name, as ``request.args.get`` reads it."""
        return dict(reversed(self.query))

    @property
    def script_root(self) -> str:
        """The prefix the app is served under, as ``flask.request.script_root`` gives it."""
        return _script_root(self.environ)

    def in_request_context(self, make: Callable[[], str]) -> str:
        """``make()`` run inside a real request context (templates, ``url_for``): for a page the
        handler has to render (a memo miss), which the hot path otherwise never needs."""
        with self.app.request_context(self.environ):
            return make()


def in_this_request(make: Callable[[], str]) -> str:
    """``make()``, in the request context already active: what a view passes where a hot handler
    passes :meth:`HotRequest.in_request_context`, to share the code that renders on a memo miss."""
    return make()


def _script_root(environ: dict[str, Any]) -> str:
    return str(environ.get("SCRIPT_NAME", "")).rstrip("/")


#: Answers a warm request: the page, or ``None`` (before any effect) to let Flask answer it.
Handler = Callable[[HotRequest], bytes | None]


@dataclass(frozen=True)
class _Route:
    rule: str
    handler: Handler


#: A percent-escape of a byte of 0x80 and up: only through one can a parsed query hold U+FFFD.
_HIGH_ESCAPE: Final = re.compile(r"%[89a-fA-F]")


def _may_hold_replacements(raw_query: str) -> bool:
    """Whether decoding ``raw_query`` can have produced U+FFFD (non-ASCII text, or an escape of a
    byte that is not ASCII); an iframe URL's query usually holds neither, and is not searched."""
    return not raw_query.isascii() or _HIGH_ESCAPE.search(raw_query) is not None


def route(app: Flask, path: str, handler: Handler) -> None:
    """Let ``handler`` answer warm GET/HEAD loads of ``path``, a route of ``app`` that requires a
    JWT with a qsh (``require_jwt()``); checked when the app starts (:func:`init_app`)."""
    app.extensions.setdefault(_EXTENSION, {})[path] = _Route(path, handler)


class HotPath:
    """WSGI middleware in front of Flask's ``wsgi_app`` (inside the proxy and environ layers)."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp, routes: dict[str, _Route]) -> None:
        self.app = app
        self.flask = wsgi_app
        self.routes = routes
        self.challenge = error_pages.jwt_challenge(app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = self.routes.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD", "")
        if found is None or method not in _METHODS or self.app.debug or _DEBUGGER_KEY in environ:
            return self.flask(environ, start_response)
        started = time.perf_counter()
        try:
            raw_query = raw_query_of(environ)
            query = parse_query(raw_query)
        except UnicodeEncodeError:  # a path Werkzeug reads its own way
            return self.flask(environ, start_response)
        if _may_hold_replacements(raw_query) and any("\ufffd" in n or "\ufffd" in v for n, v in query):
            return self.flask(environ, start_response)  # request.args keeps such bytes encoded
        stream = logs.errors_stream.set(environ.get("wsgi.errors"))
        try:
            with self.app.app_context():
                request_id = logs.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
                try:
                    answer = self._answer(found, environ, method, query, request_id, started)
                except Exception:  # a bug here must not cost the answer: Flask does the request again
                    log.warning(
                        "the hot path failed on %s %s; Flask answers", method, found.rule, exc_info=True
                    )
                    answer = None
        finally:
            logs.errors_stream.reset(stream)
        if answer is None:
            return self.flask(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [] if method == "HEAD" else [body]

    def _answer(
        self,
        found: _Route,
        environ: dict[str, Any],
        method: str,
        query: list[tuple[str, str]],
        request_id: str,
        started: float,
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        try:
            tenant, claims = auth.verify_request(
                method, raw_path_of(environ), query, environ.get("HTTP_AUTHORIZATION", ""), warm_only=True
            )
        except auth.NotWarm:
            return None
        except ConnectAuthError as error:
            return self._refuse(found, environ, method, error, request_id, started)
        account_id = auth.account_of(claims)
        context = context_globals()  # one proxy lookup, not five
        context.tenant, context.claims, context.account_id = tenant, claims, account_id
        context.request_id, context.request_started = request_id, started
        page = found.handler(HotRequest(environ, self.app, tenant, claims, account_id, query))
        if page is None:
            return None
        csp = http_headers.policy_of(
            self.app.config.get("ALL_JS_URL"),
            http_headers.frame_ancestors_of(tenant.base_url, tenant.display_url),
        )
        return self._finish(
            found, method, 200, page, http_headers.dynamic_headers(csp), request_id, started, tenant
        )

    def _refuse(
        self,
        found: _Route,
        environ: dict[str, Any],
        method: str,
        error: ConnectAuthError,
        request_id: str,
        started: float,
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """The 401 ``app/error_pages.py`` gives an iframe page, when its page is in the memo."""
        page = error_pages.page_if_rendered(self.app, method, found.rule, error, _script_root(environ))
        if page is None:
            return None
        error_pages.note_refusal(error, method, found.rule, request_id)
        headers = [
            ("WWW-Authenticate", self.challenge),
            *http_headers.dynamic_headers(
                http_headers.policy_of(self.app.config.get("ALL_JS_URL"), "'none'")
            ),
        ]
        return self._finish(found, method, error.status_code, page, headers, request_id, started, None)

    def _finish(
        self,
        found: _Route,
        method: str,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]],
        request_id: str,
        started: float,
        tenant: TenantSnapshot | None,
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        headers = [
            ("Content-Type", _HTML),
            ("Content-Length", str(len(body))),
            *headers,
            (logs.REQUEST_ID_HEADER, request_id),
        ]
        metrics.hot_path_answer(found.rule)
        record_request(
            method, found.rule, status, time.perf_counter() - started, request_id=request_id, tenant=tenant
        )
        return _STATUS_LINES[status], headers, body


_STATUS_LINES: Final = {200: "200 OK", 401: "401 UNAUTHORIZED"}


def init_app(app: Flask) -> None:
    """Put the hot path in front of ``app``'s routes registered with :func:`route`, if it is on.

    Refuses to start if a hot route is not a Flask route that requires a JWT with a qsh: whatever the
    hot path hands on must be authenticated by Flask the same way.
    """
    routes: dict[str, _Route] = app.extensions.get(_EXTENSION, {})
    for path in routes:
        view = _view_at(app, path)
        if view is None or getattr(view, "connect_authentication", None) != "qsh":
            raise RuntimeError(f"hot route {path} is not a route of the app that requires a JWT with a qsh")
    if routes and app.config["HOT_PATH"] and app.config["HOT_CACHE_SECONDS"] > 0:
        app.wsgi_app = HotPath(app, app.wsgi_app, routes)  # type: ignore[method-assign]


def _view_at(app: Flask, path: str) -> Callable[..., Any] | None:
    adapter = app.url_map.bind("hot.path.check")
    try:
        endpoint, _ = adapter.match(path, method="GET")
    except Exception:
        return None
    view: Callable[..., Any] | None = app.view_functions.get(str(endpoint))
    return view
