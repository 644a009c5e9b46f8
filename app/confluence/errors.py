"""Map Confluence's answers to the typed errors of ``app.errors`` (no new classes here)."""

from __future__ import annotations

from typing import Any

import requests

from app.errors import (
    ConfluenceBadResponseError,
    ConfluenceError,
    ConfluenceForbiddenError,
    ConfluenceNotFoundError,
    ConfluenceRateLimitedError,
    ConfluenceServerError,
    ConfluenceUnauthorizedError,
)

_BY_STATUS: dict[int, type[ConfluenceError]] = {
    401: ConfluenceUnauthorizedError,
    403: ConfluenceForbiddenError,
    404: ConfluenceNotFoundError,
}


def error_for_status(
    status: int, method: str, url: str, *, retry_after: float | None = None
) -> ConfluenceError:
    """Return the typed error for an HTTP error status; the message names method, URL and status only."""
    message = f"Confluence answered {status} to {method} {url}"
    if status == 429:
        return ConfluenceRateLimitedError(
            message, retry_after=retry_after, method=method, url=url, status=status
        )
    if status >= 500:
        return ConfluenceServerError(message, method=method, url=url, status=status)
    return _BY_STATUS.get(status, ConfluenceError)(message, method=method, url=url, status=status)


def json_body(response: requests.Response, method: str) -> Any:
    """Return the decoded JSON body of a successful response, or raise ConfluenceBadResponseError."""
    try:
        return response.json()
    except ValueError as exc:  # requests' JSONDecodeError is a ValueError
        raise ConfluenceBadResponseError(
            f"Confluence sent a body that is not JSON for {method} {response.url}",
            method=method,
            url=response.url,
            status=response.status_code,
        ) from exc
