"""The emulator's error responses: v2 REST error bodies, raised as one type and rendered in one place."""

from __future__ import annotations

from flask import Flask, Response, jsonify


class ApiError(Exception):
    """An HTTP error with the fields of a Confluence v2 error body."""

    def __init__(
        self, status: int, code: str, title: str, detail: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}


def bad_parameter(detail: str) -> ApiError:
    """400 INVALID_REQUEST_PARAMETER, which Confluence uses for every malformed query parameter."""
    return ApiError(400, "INVALID_REQUEST_PARAMETER", "Provided value for a parameter is not valid", detail)


def not_found(detail: str) -> ApiError:
    """404 NOT_FOUND (Confluence also uses it when the caller may not see the object)."""
    return ApiError(404, "NOT_FOUND", "Not Found", detail)


def unauthorized(detail: str) -> ApiError:
    """401 UNAUTHORIZED for a missing, malformed, expired or mismatched credential."""
    return ApiError(401, "UNAUTHORIZED", "Unauthorized", detail)


def error_response(error: ApiError) -> Response:
    """Render an :class:`ApiError` as a v2 error body with its extra headers."""
    body = {
        "errors": [{"status": error.status, "code": error.code, "title": error.title, "detail": error.detail}]
    }
    response = jsonify(body)
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Register the single handler that turns :class:`ApiError` into a response."""
    app.register_error_handler(ApiError, error_response)
