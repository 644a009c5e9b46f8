"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py 'app:create_app()'``.

Connect sends the user's signed token in the query string (``?…&jwt=eyJ…``), so no log line may carry
a query string:

- the access log names the path only (``%(U)s``), never the request line (``%(r)s``) or the query
  (``%(q)s``), and leaves out the Referer;
- gunicorn's own error log writes the raw URI when a request fails ("Error handling request GET …")
  or cannot be parsed ("Invalid request from ip=…"); :class:`RedactingLogger` rewrites every record
  of gunicorn's loggers through ``app.log_redaction`` (query strings, ``jwt=`` values and bare JWTs
  become ``[redacted]``). That also covers an access-log format someone changes later;
- the app's log lines pass through the same filter on Flask's default handler.

Metrics (``app/observability/metrics.py``): every worker counts in files under
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them all up. Unset, this file makes a fresh private
directory for this server (removed when it stops), so totals are right across workers by default; set
it to a directory shared with the ``flask worker`` processes of the same machine to scrape their scan
figures here too (empty it before the first process starts). ``child_exit`` tells prometheus_client
which worker died, so its live gauges are dropped.

With ``APP_LOG_FORMAT=json`` gunicorn's own lines (errors and access) are JSON objects too.

Anything given on the command line (``--bind``, ``--workers``, ``--access-logfile`` …) overrides these.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

# Before anything imports prometheus_client (the app does): it picks its value store at import time.
_OWN_METRICS_DIR: str | None = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="freshness-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR
else:
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from flask.logging import default_handler  # noqa: E402
from gunicorn.glogging import Logger  # noqa: E402

from app.log_redaction import RedactSecrets  # noqa: E402
from app.observability.logs import JsonFormatter  # noqa: E402

_JSON_LOGS = os.environ.get("APP_LOG_FORMAT", "").strip().lower() == "json"

# Both logs go to the standard streams (stdout for access, stderr for errors) unless overridden.
accesslog = "-"
errorlog = "-"
# Apache's combined format, less the query string and the Referer: client, user, time, method, path,
# protocol, status, bytes, duration in microseconds, user agent.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(D)s "%(a)s"'


def _redact_through(logger_or_handler: Any) -> None:
    if not any(isinstance(f, RedactSecrets) for f in logger_or_handler.filters):
        logger_or_handler.addFilter(RedactSecrets())


class RedactingLogger(Logger):
    """gunicorn's logger, with :class:`RedactSecrets` on its error and access loggers."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)  # runs again on a configuration reload (HUP): add the filter only once
        for log in (self.error_log, self.access_log):
            _redact_through(log)
            if _JSON_LOGS:
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        if atoms.get("U") is None:  # a request that failed in the WSGI stack has no PATH_INFO
            atoms["U"] = str(environ.get("RAW_URI") or "-").split("?", 1)[0]
        return atoms


logger_class = RedactingLogger


# The app's own lines (Flask's handler writes them to gunicorn's error stream, past gunicorn's
# loggers) name request paths only; this catches what they cannot vouch for, such as a URL quoted in
# the message of an exception whose traceback is logged.
_redact_through(default_handler)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: prometheus_client drops its live gauges (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the metrics directory this file made (never one the environment named)."""
    if _OWN_METRICS_DIR is not None:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
