"""One place that turns errors into responses: HTML for iframe pages, JSON elsewhere.

Clients see a short message and a status; never a stack trace, a SQL statement, a secret or a token.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from app.errors import AppError, ConnectAuthError

_HTML_PREFIXES = ("/macros/", "/admin/")


def _wants_html() -> bool:
    return request.path.startswith(_HTML_PREFIXES) and request.method in {"GET", "HEAD"}


def _respond(status: int, code: str, message: str, title: str) -> Response:
    if _wants_html():
        response = make_response(render_template("error.html", title=title, message=message), status)
    else:
        response = jsonify({"error": code, "message": message})
        response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = f'JWT realm="{current_app.config["KEY"]}"'
    return response


def handle_app_error(error: AppError) -> Response:
    """Answer an AppError with its status and its (safe) message."""
    if isinstance(error, ConnectAuthError):
        current_app.logger.info("refused %s %s: %s", request.method, request.path, error.message)
    elif error.status_code >= 500:
        current_app.logger.warning(
            "%s on %s %s: %s", type(error).__name__, request.method, request.path, error.message
        )
    title = "Not authorised" if error.status_code in (401, 403) else "Something went wrong"
    return _respond(error.status_code, error.code, error.message, title)


def handle_http_exception(error: HTTPException) -> Response:
    """Answer Werkzeug's own errors (404, 405, 413 …) in the same shape."""
    status = error.code or 500
    name = (error.name or "error").lower().replace(" ", "_")
    return _respond(status, name, error.name or "Error", error.name or "Error")


def handle_unexpected(error: Exception) -> Response:
    """Log the bug with its trace for us; show the client nothing of it."""
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _respond(500, "internal_error", "Something went wrong on our side.", "Something went wrong")


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
