"""How the app sits behind its TLS-terminating proxy: which forwarded headers it trusts, and the
production guard against the debugger.

* ``APP_TRUSTED_PROXY_COUNT`` (default 0) is the number of proxies in front of the app that set
  ``X-Forwarded-For/-Proto/-Host/-Port``. With 0, those headers are ignored: a client cannot make
  the app believe it was reached over https, or on another host, by sending them. With N > 0,
  Werkzeug's ``ProxyFix`` trusts the last N values of each header (the ones our proxies appended).
  ``X-Forwarded-Prefix`` is never trusted: the app is served at the root of its ``APP_BASE_URL``.
* With ``APP_PRODUCTION=true``, the app refuses to serve while debug is on. ``create_app`` already
  refuses to start when ``FLASK_DEBUG`` is set (``flask run --debug``, gunicorn with FLASK_DEBUG=1);
  this guard covers what is switched on *after* ``create_app``: ``app.run(debug=True)``,
  ``app.debug = True``, and ``flask run --debugger`` (Werkzeug's interactive debugger around the app).
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.errors import DebugInProductionError

#: Set by Werkzeug's interactive debugger (``DebuggedApplication`` with ``evalex``) on every request.
_DEBUGGER_ENVIRON_KEY = "werkzeug.debug.preserve_context"


def debug_is_on() -> bool:
    """True if Flask's debug mode or Werkzeug's interactive debugger is active for this request."""
    return bool(current_app.debug) or _DEBUGGER_ENVIRON_KEY in request.environ


def refuse_debug_in_production() -> None:
    """``before_request`` guard: in production, refuse every request while debug is on."""
    if current_app.config["PRODUCTION"] and debug_is_on():
        current_app.logger.critical(
            "refusing %s %s: debug is on in production (unset FLASK_DEBUG, do not pass --debug "
            "or --debugger, do not call app.run(debug=True))",
            request.method,
            request.path,
        )
        raise DebugInProductionError()


def trust_proxies(app: Flask, count: int) -> None:
    """Wrap ``app.wsgi_app`` in ProxyFix trusting ``count`` proxies; with 0, change nothing."""
    if count <= 0:
        return
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count, x_prefix=0
    )


def init_app(app: Flask) -> None:
    """Apply the proxy setting and register the production debug guard (first, before any view)."""
    trust_proxies(app, app.config["TRUSTED_PROXY_COUNT"])
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_debug_in_production)
