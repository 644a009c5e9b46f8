"""Operations: health endpoints, Prometheus metrics and structured logs (docs/deployment.md, §6).

* ``health.py``: readiness checks bounded in time; ``web.py``: /healthz, /readyz, /metrics and the
  per-request hook (count, time, request id, one log line).
* ``metrics.py``: every metric and the helpers the app calls; no Flask, so ``app/reports`` and the
  Confluence client's process-wide event hook use it directly.
* ``logs.py``: request ids, tenant tags, job ids, and the JSON and text formats.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask.logging import default_handler

from app.confluence.events import observe_every_client
from app.log_redaction import RedactSecrets
from app.observability import logs, metrics, stderr_batches, web
from app.observability.web_lines import WsgiErrorsHandler, web_handler

__all__ = [
    "WsgiErrorsHandler",
    "configure_web_logging",
    "configure_worker_logging",
    "init_app",
    "web_handler",
]


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
    stderr_batches.configure(app.config["LOG_BATCH_SECONDS"])
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
