"""The web process's log lines: the handler that writes them to ``wsgi.errors``, and the request line.

Every answered request logs one line (``web.record_request``). Made as ``Logger.log`` makes it, that
line costs a full ``LogRecord`` (thread and process names, file names, relative time) and a walk up
the logger tree, and the handler's, filters' and base formatter's general passes over it. Under
granian, side by side on one core, writing the line that way cost an eighth of a warm iframe load's
requests per second (against no line at all, or a bare f-string line). When logging is set up as
the app leaves it (the request logger's records reach :data:`web_handler` and no other handler,
through no logger filter, with the app's own filters and formatter), that handler writes the line
from its values without making a record (:meth:`WsgiErrorsHandler.write_fields`): what its filters
and its formatter would do to such a record, the same line. Any other set-up (a handler added
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

    def write_fields(
        self, name: str, level: int, msg: str, args: tuple[Any, ...], fields: dict[str, Any]
    ) -> None:
        """Write the line of a record of ``name`` and ``level`` with message ``msg % args`` and the
        attributes ``fields`` (which name its request and tenant), as :meth:`handle` would with the
        filters and formatter ``logs.prepare_handler`` gives this handler (:func:`sole_web_handler`
        checked that they are those, and that no job is bound), without making the record.

        The context filter has nothing to add to such a record, so what they do comes down to the
        redaction filter's pass over the message and the formatter's line.
        """
        created = time.time()
        msecs = int((created - int(created)) * 1000) + 0.0  # as LogRecord computes it
        try:
            formatter: logs.TextFormatter | logs.JsonFormatter = self.formatter  # type: ignore[assignment]
            message = redact(msg % args if args else msg)
            line = formatter.line_of(created, msecs, logging.getLevelName(level), name, message, fields)
            _write(line + self.terminator)
        except RecursionError:  # as StreamHandler does
            raise
        except Exception:
            record = logging.makeLogRecord({**fields, "name": name, "msg": msg, "args": args})
            record.levelno, record.levelname = level, logging.getLevelName(level)
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
    written by the app's handler without a record when only it would write the line, else as a full
    record through the tree.

    Neither looks up the calling frame: the line says what it is about.
    """
    handler = sole_web_handler(logger, level)
    if handler is not None and "request_id" in fields and "tenant" in fields:
        handler.write_fields(logger.name, level, msg, args, fields)
        return
    logger.handle(logger.makeRecord(logger.name, level, __file__, 0, msg, args, None, extra=fields))
