"""One place that turns errors into responses: HTML for iframe pages, JSON elsewhere.

Clients see a short message and a status; never a stack trace, a SQL statement, a secret or a token.
The security headers (``app/http_headers.py``) are added to these responses like to any other.
Our own log gets the trace of an unexpected error, with SQL parameters (which may hold a tenant's
shared secret) hidden.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, jsonify, make_response, render_template, request
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.errors import AppError, ConnectAuthError, DatabaseUnavailableError, MethodNotAllowedError
from app.observability import logs, web_lines
from app.observability.metrics import count_refusal
from app.page_memo import RenderMemo

#: Errors that mean "the database is not answering" (down, restarting, unreachable, pool exhausted).
DATABASE_DOWN = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
#: How long clients are asked to wait when the database is down.
DATABASE_RETRY_AFTER_SECONDS = 30


def _wants_html() -> bool:
    return _is_iframe_page(current_app, request.method, request.path)


def _is_iframe_page(app: Flask, method: str, path: str) -> bool:
    """An iframe page (a prefix the app declared to the framework extension) loaded with GET/HEAD."""
    connect = app.extensions.get("connect")
    prefixes: tuple[str, ...] = connect.iframe_prefixes if connect is not None else ()
    return method in {"GET", "HEAD"} and path.startswith(prefixes)


def _error_pages(app: Flask) -> RenderMemo:
    """This app's rendered error pages: a pure function of the title, the message and the prefix the
    app is served under (the page's static URLs), so they are kept in a small LRU (a 401 storm then
    costs no template render)."""
    memo: RenderMemo = app.extensions.setdefault("error_page_memo", RenderMemo(64))
    return memo


def _title(status: int) -> str:
    return "Not authorised" if status in (401, 403) else "Something went wrong"


def page_if_rendered(app: Flask, method: str, path: str, error: AppError, script_root: str) -> bytes | None:
    """The iframe error page :func:`handle_app_error` answers ``error`` with on ``path``, if it is in
    the memo already (``app/hot_path.py``); None if it is not, or if that answer is not a page."""
    if not _is_iframe_page(app, method, path):
        return None
    return _error_pages(app).get((_title(error.status_code), error.message, script_root))


def jwt_challenge(app: Flask) -> str:
    """The ``WWW-Authenticate`` value of a 401 for a Connect token."""
    return f'JWT realm="{app.config["KEY"]}"'


def note_refusal(
    error: ConnectAuthError, method: str, path: str, request_id: str | None, tenant: object = None
) -> None:
    """Count and log a refused token (for :func:`handle_app_error` and the hot path alike).

    The line names its request itself (the hot path refuses before ``g.request_id`` is set), so it is
    written as the request line is (``web_lines.log_line``).
    """
    count_refusal(error)
    logger = current_app.logger
    if logger.isEnabledFor(logging.INFO):
        web_lines.log_line(
            logger,
            logging.INFO,
            "refused %s %s: %s",
            (method, path, error.message),
            logs.request_context(request_id, tenant),
        )


def _respond(status: int, code: str, message: str, title: str) -> Response:
    if _wants_html():
        try:
            page = _error_pages(current_app).get_or_render(
                (title, message, request.script_root),
                lambda: render_template("error.html", title=title, message=message),
            )
        except Exception:  # never let the error page itself turn a 4xx into an unhandled error
            current_app.logger.exception("could not render the error page")
            page = f"{title}. {message}".encode()
        response = make_response(page, status)
    else:
        response = jsonify({"error": code, "message": message})
        response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = jwt_challenge(current_app)
    return response


def handle_app_error(error: AppError) -> Response:
    """Answer an AppError with its status and its (safe) message."""
    if isinstance(error, ConnectAuthError):
        note_refusal(error, request.method, request.path, g.get("request_id"), g.get("tenant"))
    elif error.status_code >= 500:
        current_app.logger.warning(
            "%s on %s %s: %s", type(error).__name__, request.method, request.path, error.message
        )
    response = _respond(error.status_code, error.code, error.message, _title(error.status_code))
    if isinstance(error, MethodNotAllowedError):
        response.headers["Allow"] = ", ".join(error.allowed)
    return response


def handle_http_exception(error: HTTPException) -> Response:
    """Answer Werkzeug's own errors (404, 405, 413 …) in the same shape."""
    status = error.code or 500
    name = (error.name or "error").lower().replace(" ", "_")
    response = _respond(status, name, error.name or "Error", error.name or "Error")
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _hide_sql_parameters(error: BaseException | None) -> None:
    """Mark every SQLAlchemy error in the chain so its text omits the bound parameters."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, StatementError):
            error.hide_parameters = True
        error = error.__cause__ or error.__context__


#: SQLite reports a broken schema as an OperationalError too; that is a bug to fix, not an outage.
_SCHEMA_FAULTS = ("no such table", "no such column", "syntax error", "has no column")


def is_database_down(error: BaseException) -> bool:
    """Whether ``error`` means the database is unreachable (not that our SQL or schema is wrong)."""
    if isinstance(error, OperationalError):
        text = str(error.orig if error.orig is not None else error).lower()
        return not any(fault in text for fault in _SCHEMA_FAULTS)
    return isinstance(error, DATABASE_DOWN)


def handle_database_down(error: Exception) -> Response:
    """503 with ``Retry-After`` and a plain message; the pool's pre-ping reconnects once it is back."""
    if not is_database_down(error):
        return handle_unexpected(error)
    _hide_sql_parameters(error)
    current_app.logger.error(
        "database unavailable on %s %s: %s", request.method, request.path, type(error).__name__
    )
    unavailable = DatabaseUnavailableError()
    response = _respond(503, unavailable.code, unavailable.message, "Temporarily unavailable")
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def handle_unexpected(error: Exception) -> Response:
    """Log the bug with its trace for us (SQL parameters hidden); show the client nothing of it."""
    _hide_sql_parameters(error)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _respond(500, "internal_error", "Something went wrong on our side.", "Something went wrong")


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for error_class in DATABASE_DOWN:
        app.register_error_handler(error_class, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)
