"""Structured logs: a request id, a tenant tag and a job id on every line, JSON with ``APP_LOG_FORMAT=json``.

* Every request gets an id: the incoming ``X-Request-Id`` when it is a sane short token (a proxy or
  load balancer made it), else a new one; the response carries it back in ``X-Request-Id``.
* A tenant is named by its *tag*: the first 10 hex digits of an HMAC-SHA256 of its clientKey, keyed
  per deployment (derived from ``APP_SECRET_KEY``). Lines about one site can be grouped, nobody can
  read the site back from a line, and ``flask tenants tag CLIENT_KEY`` gives an operator the tag of a
  site they already know.
* In a worker, the line carries the Huey task id of the job that wrote it (``job_id``).
* Every line passes through :class:`app.log_redaction.RedactSecrets`, and the JSON formatter redacts
  the finished line again: no query string, ``jwt=`` value or JWT reaches a log.

No Flask at import time for the parts the worker and the product code use (:func:`tenant_tag`,
:func:`bind_job`); the request parts read Flask's ``g`` only while a request is active.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from app.log_redaction import RedactSecrets, redact

#: Incoming ``X-Request-Id`` values we keep: short, and nothing a log reader could trip over. No dots,
#: so a JWT (three dotted parts) sent as a request id is never echoed into a log line.
_SANE_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,63}$")
TAG_LENGTH: Final = 10
REQUEST_ID_HEADER: Final = "X-Request-Id"

#: The ``wsgi.errors`` stream of a request answered outside Flask's request context
#: (``app/hot_path.py``); request lines go there, as they go to ``request.environ["wsgi.errors"]``.
errors_stream: contextvars.ContextVar[Any] = contextvars.ContextVar("errors_stream", default=None)

_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
_job_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_tenant", default=None)
_tag_key: bytes = uuid.uuid4().bytes  # replaced by configure_tenant_tags() in create_app


def configure_tenant_tags(secret_key: str) -> None:
    """Derive this deployment's tag key from the app's secret key (same key: same tags everywhere)."""
    global _tag_key
    _tag_key = hmac.new(secret_key.encode("utf-8"), b"freshness tenant log tag", hashlib.sha256).digest()


def tenant_tag(client_key: str) -> str:
    """A short, non-reversible name for a tenant in logs (never the clientKey itself)."""
    return _tag(_tag_key, client_key)


@functools.lru_cache(maxsize=4096)
def _tag(key: bytes, client_key: str) -> str:
    # Pure, and a busy tenant is tagged on every line: kept in a bounded LRU keyed by the key too.
    return hmac.new(key, client_key.encode("utf-8"), hashlib.sha256).hexdigest()[:TAG_LENGTH]


def request_id_from(incoming: str | None) -> str:
    """The incoming id if it is a sane short token, else a new random one."""
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return f"{_new_ids.prefix}{next(_new_ids.counter):012x}"


class _NewIds:
    """New request ids: a random prefix per process and a counter, unique without a random draw (a
    system call) per request; 20 random hex digits and 12 of counter, as long as a UUID's hex. A
    forked child (a server's worker) draws its own prefix."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:20]
        self.counter = itertools.count(1)


_new_ids = _NewIds()
os.register_at_fork(after_in_child=_new_ids.reset)


def bind_job(job_id: str | None) -> None:
    """Set the job id for this thread until :func:`unbind_job` (Huey's pre/post-execute hooks)."""
    _job_id.set(job_id)
    _job_tenant.set(None)


def job_bound() -> bool:
    """Whether this thread or task is running a job (its lines carry the job id)."""
    return _job_id.get() is not None


def unbind_job() -> None:
    _job_id.set(None)
    _job_tenant.set(None)


def bind_job_tenant(client_key: str) -> None:
    """Name the tenant of the running job on its lines (the scan task, once it knows its tenant)."""
    _job_tenant.set(tenant_tag(client_key))


def request_context(request_id: str | None, tenant: object) -> dict[str, Any]:
    """The ``request_id`` and ``tenant`` (tag) fields of a line, for a request whose id and tenant
    (anything with a ``client_key``) are known; both keys are always there, ``None`` when unknown."""
    client_key = getattr(tenant, "client_key", None) if tenant is not None else None
    tag = tenant_tag(client_key) if isinstance(client_key, str) and client_key else None
    return {"request_id": request_id or None, "tenant": tag}


def _request_fields() -> dict[str, Any]:
    """``request_id`` and ``tenant`` of the active request, if any (never raises)."""
    try:
        from flask import g, has_app_context

        if not has_app_context():  # g is the app context's: the hot path answers in one
            return {}
        return request_context(g.get("request_id"), g.get("tenant"))
    except Exception:  # a log line must never fail over its context
        return {}


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``tenant`` and ``job_id`` to each record (absent ones stay unset).

    A record that already names its request and tenant (the request line) is not looked up again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not (hasattr(record, "request_id") and hasattr(record, "tenant")):
            for name, value in _request_fields().items():
                if not hasattr(record, name) and value is not None:
                    setattr(record, name, value)
        job_id = _job_id.get()
        if job_id is not None and not hasattr(record, "job_id"):
            record.job_id = job_id
        job_tenant = _job_tenant.get()
        if job_tenant is not None and not hasattr(record, "tenant"):
            record.tenant = job_tenant
        return True


#: Fields a record may carry (set by ContextFilter or passed with ``extra=``) that JSON lines include.
FIELDS: Final = (
    "request_id",
    "job_id",
    "tenant",
    "method",
    "route",
    "status",
    "duration_ms",
    "event",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context fields, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line = _json_fields(record.created, record.levelname, record.name, message, record.__dict__)
        if record.exc_info and record.exc_info[0] is not None:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        # A second pass over the whole line: whatever a field holds, no token leaves this process.
        return redact(json.dumps(line, ensure_ascii=False, default=str))

    def line_of(
        self, created: float, msecs: float, levelname: str, name: str, message: str, fields: Mapping[str, Any]
    ) -> str:
        """What :meth:`format` writes for a record with these attributes (``fields``: its context
        fields) and no traceback or stack, whose message, formatted already, is ``message``."""
        line = _json_fields(created, levelname, name, message, fields)
        return redact(json.dumps(line, ensure_ascii=False, default=str))


def _json_fields(
    created: float, levelname: str, name: str, message: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "ts": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": levelname.lower(),
        "logger": name,
        "msg": message,
    }
    for field in FIELDS:
        value = fields.get(field)
        if value is not None:
            line[field] = value
    return line


#: The text format's fields; :meth:`TextFormatter.line_of` writes the same line without the template.
_TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTEXT_NAMES: Final = ("request_id", "job_id", "tenant")


class TextFormatter(logging.Formatter):
    """Human-readable lines (the default, for development), with the context fields at the end."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The default time (``2026-12-01 08:02:55,440``), its seconds formatted once per second."""
        if datefmt is not None or self.default_msec_format is None:
            return super().formatTime(record, datefmt)
        return self._time_text(record.created, record.msecs)

    def _time_text(self, created: float, msecs: float) -> str:
        second, text = self._second
        if second != int(created):
            second = int(created)
            text = time.strftime(self.default_time_format, self.converter(created))
            self._second = (second, text)
        return self.default_msec_format % (text, msecs)  # type: ignore[operator]

    def format(self, record: logging.LogRecord) -> str:
        return _with_context(super().format(record), record.__dict__)

    def line_of(
        self, created: float, msecs: float, levelname: str, name: str, message: str, fields: Mapping[str, Any]
    ) -> str:
        """What :meth:`format` writes for a record with these attributes (``fields``: its context
        fields) and no traceback or stack, whose message, formatted already, is ``message``: the
        fields of ``_TEXT_FORMAT`` put together directly, without the base class's passes over a
        record (its template, its time check, its exception checks)."""
        if self._fmt != _TEXT_FORMAT or self.default_msec_format is None:  # changed on this instance
            record = logging.makeLogRecord(
                {**fields, "created": created, "msecs": msecs, "levelname": levelname, "name": name}
            )
            record.msg, record.args = message, None
            return self.format(record)
        return _with_context(f"{self._time_text(created, msecs)} {levelname} {name}: {message}", fields)


def _with_context(text: str, fields: Mapping[str, Any]) -> str:
    context = " ".join(
        f"{name}={value}" for name in _CONTEXT_NAMES if (value := fields.get(name)) is not None
    )
    return redact(f"{text} [{context}]" if context else text)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def prepare_handler(handler: logging.Handler, log_format: str) -> None:
    """Give ``handler`` the format, the context fields and the redaction filter (idempotent)."""
    handler.setFormatter(formatter_for(log_format))
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
    if not any(isinstance(f, RedactSecrets) for f in handler.filters):
        handler.addFilter(RedactSecrets())
