"""Exceptions raised by the app, each carrying the HTTP status it maps to.

* AppError (500)
  * BadRequestError (400)             - InvalidPayloadError
  * ConnectAuthError (401)            - MissingTokenError, InvalidTokenError, TokenExpiredError,
                                        QshMismatchError, UnknownIssuerError, InstallKeyError
  * ForbiddenError (403)              - TenantMismatchError, TenantNotAllowedError, NotAdminError
  * NotFoundError (404)               - ReportGoneError
  * MethodNotAllowedError (405)
  * ServiceUnavailableError (503)     - DatabaseUnavailableError, ViewerUnconfirmedError,
                                        DebugInProductionError, SecretsUnavailableError
  * ConfluenceError (502)             - the REST client's failures (see below)
    * ConfluenceUnauthorizedError, ConfluenceForbiddenError, ConfluenceNotFoundError,
      ConfluenceRateLimitedError, ConfluenceServerError, ConfluenceBadResponseError,
      ConfluenceTransportError

Messages are short and safe to show to a client: they never hold a secret or a token.
This module imports nothing from the rest of the app.
"""

from __future__ import annotations

from typing import ClassVar


class AppError(Exception):
    """Root of every error the app raises on purpose."""

    status_code: ClassVar[int] = 500
    #: A short machine-readable code for JSON responses.
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str = "Something went wrong.") -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(AppError):
    status_code = 400
    code = "bad_request"


class InvalidPayloadError(BadRequestError):
    """A request body that is not the JSON shape we expect."""

    code = "invalid_payload"


class ConnectAuthError(AppError):
    """The request is not authenticated as coming from an installed Atlassian site."""

    status_code = 401
    code = "unauthorized"


class MissingTokenError(ConnectAuthError):
    def __init__(self) -> None:
        super().__init__("Authentication required: no JWT in the request.")


class InvalidTokenError(ConnectAuthError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid JWT: {reason}")
        #: Why the token was refused, without the token itself.
        self.reason = reason


class TokenExpiredError(ConnectAuthError):
    def __init__(self) -> None:
        super().__init__("Invalid JWT: the token has expired.")


class QshMismatchError(ConnectAuthError):
    def __init__(self) -> None:
        super().__init__("Invalid JWT: the query string hash does not match this request.")


class UnknownIssuerError(ConnectAuthError):
    def __init__(self, client_key: str) -> None:
        super().__init__("Invalid JWT: the issuer is not an installed site.")
        #: The ``iss`` claim that matched no installed tenant.
        self.client_key = client_key


class InstallKeyError(ConnectAuthError):
    """The public key for a signed install could not be obtained."""

    def __init__(self, kid: str, reason: str) -> None:
        super().__init__(f"Invalid JWT: no usable install key for this token ({reason}).")
        self.kid = kid
        self.reason = reason


class ForbiddenError(AppError):
    status_code = 403
    code = "forbidden"


class TenantMismatchError(ForbiddenError):
    def __init__(self, authenticated: str, claimed: str) -> None:
        super().__init__("The authenticated site does not match the clientKey in the payload.")
        self.authenticated = authenticated
        self.claimed = claimed


class TenantNotAllowedError(ForbiddenError):
    def __init__(self, base_url: str) -> None:
        super().__init__("The site's baseUrl is not an allowed Atlassian host.")
        self.base_url = base_url


class NotAdminError(ForbiddenError):
    def __init__(self) -> None:
        super().__init__("Only Confluence administrators may use this page.")


class NotFoundError(AppError):
    status_code = 404
    code = "not_found"


class ReportGoneError(NotFoundError):
    """A rendered report's rows were asked for after the report was dropped (settings changed)."""

    code = "report_gone"

    def __init__(self) -> None:
        super().__init__("This report is no longer available. Reload the page.")


class MethodNotAllowedError(AppError):
    """A method the route does not serve; the response's ``Allow`` header lists ``allowed``."""

    status_code = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class ServiceUnavailableError(AppError):
    status_code = 503
    code = "unavailable"


class DebugInProductionError(ServiceUnavailableError):
    """Debug mode or the interactive debugger is on in production: every request is refused (503)."""

    def __init__(self) -> None:
        super().__init__("The app is misconfigured and cannot serve requests.")


class SecretsUnavailableError(ServiceUnavailableError):
    """A sealed secret cannot be opened with the configured keys (a deployment mistake)."""

    def __init__(self, reason: str) -> None:
        super().__init__("The app cannot read its stored credentials right now.")
        self.reason = reason


class ViewerUnconfirmedError(ServiceUnavailableError):
    """Confluence could not confirm which rows the viewer may see; they are withheld."""

    code = "viewer_unconfirmed"

    def __init__(self) -> None:
        super().__init__("We could not check which of these pages you may open. Try again in a minute.")


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database did not answer; the client should come back shortly (``Retry-After``)."""

    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__("The service is briefly unavailable. Try again in a minute.")


class ConfluenceError(AppError):
    """A call to a tenant's Confluence failed; carries the method and URL, never credentials."""

    status_code = 502
    code = "confluence_error"

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        #: The HTTP method of the request that failed.
        self.method = method
        #: The URL of the request that failed (no token: tokens travel in headers).
        self.url = url
        #: The HTTP status Confluence answered with, if it answered.
        self.status = status


class ConfluenceUnauthorizedError(ConfluenceError):
    code = "confluence_unauthorized"


class ConfluenceForbiddenError(ConfluenceError):
    code = "confluence_forbidden"


class ConfluenceNotFoundError(ConfluenceError):
    status_code = 404
    code = "confluence_not_found"


class ConfluenceRateLimitedError(ConfluenceError):
    code = "confluence_rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        method: str | None = None,
        url: str | None = None,
        status: int | None = 429,
    ) -> None:
        super().__init__(message, method=method, url=url, status=status)
        #: Seconds Confluence asked us to wait, if it said.
        self.retry_after = retry_after


class ConfluenceServerError(ConfluenceError):
    code = "confluence_server_error"


class ConfluenceBadResponseError(ConfluenceError):
    code = "confluence_bad_response"


class ConfluenceTransportError(ConfluenceError):
    """Timeouts, refused or reset connections: Confluence could not be reached."""

    code = "confluence_unreachable"
