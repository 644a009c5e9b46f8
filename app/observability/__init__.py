"""Operations: health endpoints, Prometheus metrics and structured logs (docs/deployment.md, §6).

* ``health.py``: readiness checks bounded in time; ``web.py``: /healthz, /readyz, /metrics and the
  per-request hook (count, time, request id, one log line).
* ``metrics.py``: every metric and the helpers the app calls; no Flask, so ``app/reports`` and the
  Confluence client's process-wide event hook use it directly.
* ``logs.py``: request ids, tenant tags, job ids, and the JSON and text formats.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from flask import Flask, has_request_context, request
from flask.logging import default_handler, wsgi_errors_stream

from app.confluence.events import observe_every_client
from app.log_redaction import RedactSecrets
from app.observability import logs, metrics, web


class WsgiErrorsHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Flask's default handler (each line to the request's ``wsgi.errors``, else ``sys.stderr``),
    looking that stream up once per line instead of once per call on it.

    It takes no handler lock: a line is formatted first and then written with one ``write`` call,
    which a Python stream carries out whole (text and buffered streams hold the GIL or their own
    lock for it), so lines never interleave. With the lock, the request threads queued behind each
    other's write system call on every request.
    """

    def __init__(self) -> None:
        super().__init__(wsgi_errors_stream)

    def handle(self, record: logging.LogRecord) -> bool:
        """:meth:`logging.Handler.handle` without the lock: filter, then :meth:`emit`."""
        passed = self.filter(record)
        if isinstance(passed, logging.LogRecord):  # Python 3.12+: a filter may return a new record
            record = passed
        if passed:
            self.emit(record)
        return bool(passed)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            stream = _errors_stream()
            stream.write(line)
            stream.flush()
        except RecursionError:  # as StreamHandler does
            raise
        except Exception:
            self.handleError(record)


def _errors_stream() -> Any:
    """The request's ``wsgi.errors`` (Flask's request, or one the hot path answers), else stderr."""
    if has_request_context():
        return request.environ["wsgi.errors"]
    stream = logs.errors_stream.get()
    return stream if stream is not None else sys.stderr


#: One handler for every app in the process, as Flask's ``default_handler`` is.
web_handler = WsgiErrorsHandler()


def configure_web_logging(app: Flask) -> None:
    """The app's lines (``app`` and its children) to the WSGI error stream: format, context, redaction.

    The ``app`` logger logs INFO and up (the request lines, refusals); Werkzeug's development server
    logs request lines with their query string, so its logger gets the redaction filter too.
    """
    # Flask attaches its handler only when no handler is configured above; attach ours whatever the
    # root logger has, so these lines always reach the WSGI error stream (gunicorn's error log).
    app.logger.removeHandler(default_handler)
    if web_handler not in app.logger.handlers:
        app.logger.addHandler(web_handler)
    logs.prepare_handler(web_handler, app.config["LOG_FORMAT"])
    if app.logger.level == logging.NOTSET:
        app.logger.setLevel(logging.INFO)
    werkzeug_logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactSecrets) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(RedactSecrets())


def configure_worker_logging(app: Flask) -> None:
    """A worker process's lines (the app's, Huey's) on one stderr handler, with the job id on each."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_freshness", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._freshness = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    logs.prepare_handler(handler, app.config["LOG_FORMAT"])
    root.setLevel(logging.INFO)
    app.logger.removeHandler(web_handler)  # the root handler writes the app's lines once


def init_app(app: Flask) -> None:
    """Wire health, metrics and logs into the app (``create_app`` calls this last)."""
    logs.configure_tenant_tags(app.config["SECRET_KEY"])
    observe_every_client(metrics.observe_confluence)
    configure_web_logging(app)
    web.init_app(app)
