"""The app with two test routes, for tests that run it under a real server (granian, gunicorn).

* ``/__environ`` (public) answers what the app saw in its WSGI environ, and whether the server handed
  the process environment in (``server_passed``: recorded by a layer outside the app, before the app's
  own middleware ran), so a test can show both the leak and its removal.
* ``/__echo/<path:name>`` requires a JWT like any module route and answers the raw path and the
  qsh the app computed, so a test can sign percent-encoded paths and queries and see them accepted.

    granian --interface wsgi --factory tests.kit.served_app:create
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from app import create_app
from app.connect.auth import authenticated_by, expected_qsh, require_jwt
from app.connect.requests_info import raw_path

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: What the server put in the environ of the last request, before the app's middleware ran.
_SERVER_PASSED: dict[str, bool] = {}


@authenticated_by("public")
def _environ() -> ResponseReturnValue:
    seen = {key: str(value) for key, value in request.environ.items()}
    return jsonify(seen=seen, server_passed=dict(_SERVER_PASSED))


@require_jwt()
def _echo(name: str) -> ResponseReturnValue:
    return jsonify(name=name, raw_path=raw_path(request), qsh=expected_qsh())


def create() -> WSGIApp:
    app = create_app()
    app.add_url_rule("/__environ", "environ", _environ)
    app.add_url_rule("/__echo/<path:name>", "echo", _echo)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        _SERVER_PASSED.update(
            {name: name in environ for name in ("APP_SECRET_KEY", "APP_SECRETS_KEYS", "APP_DATABASE_URL")}
        )
        return app(environ, start_response)

    return wsgi
