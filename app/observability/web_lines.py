"""The web process's log lines: the handler that writes them to ``wsgi.errors``, and the request line.

Every answered request logs one line (``web.record_request``). Made as ``Logger.log`` makes it, that
line costs a full ``LogRecord`` (thread and process names, file names, relative time) and a walk up
the logger tree: about a twentieth of a warm iframe load. When logging is set up as the app leaves it
(the request logger's records reach :data:`web_handler` and no other handler, through no logger
filter, with the app's own filters and formatter), the request line is made as a lean record and
written by that handler in one pass (:meth:`WsgiErrorsHandler.write_lean`): what its filters and its
formatter would do to that record, the same line, without their general passes (the handler's, the
filters', the base formatter's template), which cost as much again. Any other set-up (a handler added
anywhere up the tree, as pytest's log capture does, a logger filter, another formatter, a bound job
id, a line that does not name its request) takes the ordinary way.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Final

from flask import has_request_context, request
from flask.logging import wsgi_errors_stream

from app.log_redaction import RedactSecrets, redact
from app.observability import logs, stderr_batches


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
            _write(self.format(record) + self.terminator)
        except RecursionError:  # as StreamHandler does
            raise
        except Exception:
            self.handleError(record)

    def write_lean(self, record: logging.LogRecord) -> None:
        """Write ``record``, which names its request and tenant, as :meth:`handle` would with the
        filters and formatter ``logs.prepare_handler`` gives this handler (:func:`sole_web_handler`
        checked that they are those, and that no job is bound).

        The context filter has nothing to add to such a record, so what they do comes down to the
        redaction filter's pass over the message and the formatter's line.
        """
        try:
            formatter: logs.TextFormatter | logs.JsonFormatter = self.formatter  # type: ignore[assignment]
            _write(formatter.lean_line(record, redact(record.getMessage())) + self.terminator)
        except RecursionError:  # as StreamHandler does
            raise
        except Exception:
            self.handleError(record)


def _write(line: str) -> None:
    """Write a line to the request's error stream: in the next batch if that is the process's standard
    error (``stderr_batches``), else at once."""
    stream = _errors_stream()
    if stream is sys.__stderr__:
        stderr_batches.stderr_lines.put(line)
    else:
        stream.write(line)
        stream.flush()


def _errors_stream() -> Any:
    """The request's ``wsgi.errors`` (Flask's request, or one the hot path answers), else stderr."""
    if has_request_context():
        return request.environ["wsgi.errors"]
    stream = logs.errors_stream.get()
    return stream if stream is not None else sys.stderr


#: One handler for every app in the process, as Flask's ``default_handler`` is.
web_handler = WsgiErrorsHandler()

#: The filters ``logs.prepare_handler`` gives the handler, in that order, and the formatters it may set.
_OWN_FILTERS: Final = (logs.ContextFilter, RedactSecrets)
_OWN_FORMATTERS: Final = (logs.TextFormatter, logs.JsonFormatter)


class _LeanRecord(logging.LogRecord):
    """A request line's record: what the app's filters and formatters read, and nothing else."""

    def __init__(
        self, name: str, level: int, msg: str, args: tuple[Any, ...], fields: dict[str, Any]
    ) -> None:
        created = time.time()
        self.__dict__.update(fields)
        self.name = name
        self.msg = msg
        self.args = args
        self.levelname = logging.getLevelName(level)
        self.levelno = level
        self.exc_info = None
        self.exc_text = None
        self.stack_info = None
        self.created = created
        self.msecs = int((created - int(created)) * 1000) + 0.0  # as LogRecord computes it


def sole_web_handler(logger: logging.Logger, level: int) -> WsgiErrorsHandler | None:
    """:data:`web_handler`, if a record of ``level`` on ``logger`` would reach it and no other handler,
    through no logger filter, with the app's own filters and formatter only; else None."""
    if logs.job_bound():  # the context filter would add the job's fields
        return None
    found: WsgiErrorsHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if handler is not web_handler or found is not None:
                return None
            found = web_handler
        if not current.propagate:
            break
        current = current.parent
    if found is None or level < found.level or type(found.formatter) not in _OWN_FORMATTERS:
        return None
    filters = found.filters
    if len(filters) != len(_OWN_FILTERS) or any(
        type(have) is not kind for have, kind in zip(filters, _OWN_FILTERS, strict=True)
    ):
        return None
    return found


def log_line(
    logger: logging.Logger, level: int, msg: str, args: tuple[Any, ...], fields: dict[str, Any]
) -> None:
    """Log ``msg % args`` with ``fields`` on ``logger`` (already known to be enabled for ``level``):
    a lean record when only the app's handler would write it, else a full one through the tree.

    Neither looks up the calling frame: the line says what it is about.
    """
    handler = sole_web_handler(logger, level)
    if handler is not None and "request_id" in fields and "tenant" in fields:
        handler.write_lean(_LeanRecord(logger.name, level, msg, args, fields))
        return
    logger.handle(logger.makeRecord(logger.name, level, __file__, 0, msg, args, None, extra=fields))
