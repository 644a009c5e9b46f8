"""Formatting for the web server's own log lines (granian's: ``granian-logging.json``).

granian logs through Python's ``logging`` (loggers ``_granian`` and ``granian.access``) and takes a
``dictConfig`` file (``--log-config``). Ours puts :class:`app.log_redaction.RedactSecrets` on both
handlers, since granian writes the message of an exception raised outside the app, which may quote the
request's URI with its token, and formats the lines like the app's: JSON objects with
``APP_LOG_FORMAT=json``, else granian's own ``[LEVEL] message``.
"""

from __future__ import annotations

import logging
import os

from app.observability.logs import JsonFormatter


def formatter() -> logging.Formatter:
    """The formatter for a server log handler (a ``dictConfig`` ``()`` factory)."""
    if os.environ.get("APP_LOG_FORMAT", "").strip().lower() == "json":
        return JsonFormatter()
    return logging.Formatter("[%(levelname)s] %(message)s")
