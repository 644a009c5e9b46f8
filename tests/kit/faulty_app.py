"""The app behind a WSGI layer with a bug any client can reach, for tests of the server's logs.

The app answers its own errors (``app/error_pages.py``), so nothing a client sends makes it raise
into gunicorn; a bug in a layer around it (middleware, a response iterator) does, and that is what
gunicorn logs as "Error handling request <method> <raw URI>" with a traceback. The exception's message
quotes the raw URI too, as careless error messages do, so the traceback carries the token as well.
A view with the same kind of bug shows what the app's own error log line does with it.

    gunicorn 'tests.kit.faulty_app:create()'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from flask import request

from app import create_app
from app.connect.auth import authenticated_by

#: Requests to this path raise from the WSGI layer, whatever their query.
BUG_PATH: Final = "/__bug"
#: Requests to this path raise inside a view: the app answers 500 and logs the traceback itself.
VIEW_BUG_PATH: Final = "/__view-bug"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@authenticated_by("public")
def _failing_view() -> str:
    raise RuntimeError(f"the view failed on {request.url}")


def create() -> WSGIApp:
    app = create_app()
    app.add_url_rule(VIEW_BUG_PATH, "failing_view", _failing_view)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == BUG_PATH:
            uri = environ.get("RAW_URI") or f"{environ.get('PATH_INFO')}?{environ.get('QUERY_STRING')}"
            raise RuntimeError(f"the WSGI layer failed on {uri}")
        return app(environ, start_response)

    return wsgi
