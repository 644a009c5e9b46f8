"""Keep the process environment out of every request's WSGI environ.

Some WSGI servers start each request's environ from a copy of the process environment: granian does
(``dict(os.environ) | scope``), and so do CGI-style servers. The app's configuration is environment
variables, so ``APP_SECRET_KEY``, ``APP_SECRETS_KEYS``, a database or Redis URL with its password and
``APP_METRICS_TOKEN`` would then sit in ``request.environ``, for anything that prints or reports it (an
error reporter, a debugging middleware, a careless log line) to pass on. This middleware removes them
before the app sees the environ: every variable of the process environment whose name is not a request
variable of CGI or WSGI (``REQUEST_METHOD``, ``HTTP_*``, ``wsgi.*`` …), and every ``APP_*`` name whenever
it was set. Under gunicorn and ``flask run``, whose environs carry only the request, it removes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Final

from flask import Flask

#: Names a server sets for the request itself (PEP 3333, CGI 1.1, and the raw-URI extensions).
_REQUEST_NAMES: Final = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
        "GATEWAY_INTERFACE",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "REMOTE_HOST",
        "REMOTE_USER",
        "AUTH_TYPE",
        "RAW_URI",
        "REQUEST_URI",
        "HTTPS",
    }
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def process_names(environment: Iterable[str]) -> frozenset[str]:
    """The names of ``environment`` (the process's) that must not reach a request's environ."""
    return frozenset(
        name for name in environment if name not in _REQUEST_NAMES and not name.startswith(("HTTP_", "wsgi."))
    )


class StripProcessEnvironment:
    """WSGI middleware: drop the process environment's variables from each request's environ."""

    def __init__(self, app: WSGIApp, names: frozenset[str] | None = None) -> None:
        self.app = app
        self.names = process_names(os.environ) if names is None else names

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for name in self.names:
            environ.pop(name, None)
        for name in [n for n in environ if n.startswith("APP_")]:  # set after start-up: still config
            del environ[name]
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    app.wsgi_app = StripProcessEnvironment(app.wsgi_app)  # type: ignore[method-assign]
