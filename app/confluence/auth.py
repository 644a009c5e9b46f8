"""``requests`` auth hooks for calls to Confluence: as the app (Connect JWT) and as a user (Bearer).

As the app: a JWT with ``iss`` = app key, ``exp`` = ``iat`` + 180, a qsh over the outgoing request relative
to the tenant baseUrl, sent as ``Authorization: JWT <token>`` ("Understanding JWT for Connect apps",
https://developer.atlassian.com/cloud/confluence/understanding-jwt/). As a user: ``Authorization: Bearer
<token>`` from the OAuth 2.0 JWT-bearer grant
(https://developer.atlassian.com/cloud/confluence/user-impersonation-for-connect-apps/).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from app.connect.qsh import query_string_hash
from app.connect.tokens import APP_TOKEN_LIFETIME_SECONDS, sign_app_token

#: Marks a request already re-sent with a fresh bearer token, so a 401 is never retried twice.
_RETRIED: Final = "_confluence_bearer_retried"


class ConnectJWTAuth(AuthBase):
    """Sign each prepared request with a fresh HS256 JWT bound to its method, path and query.

    The qsh is computed from the prepared request's URL, i.e. exactly the query string that goes on
    the wire (after requests encoded the params), with the tenant baseUrl's path (``/wiki``) removed.
    """

    def __init__(
        self,
        *,
        app_key: str,
        shared_secret: str,
        base_url: str,
        clock: Callable[[], float] = time.time,
        lifetime: int = APP_TOKEN_LIFETIME_SECONDS,
    ) -> None:
        self._app_key = app_key
        self._secret = shared_secret
        self._base_path = urlsplit(base_url).path.rstrip("/")
        self._clock = clock
        self._lifetime = lifetime

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(r.url or "")
        qsh = query_string_hash(r.method or "GET", url.path, url.query, self._base_path)
        token = sign_app_token(
            app_key=self._app_key,
            secret=self._secret,
            qsh=qsh,
            now=int(self._clock()),
            lifetime=self._lifetime,
        )
        r.headers["Authorization"] = f"JWT {token}"
        return r

    def __repr__(self) -> str:
        return f"ConnectJWTAuth(app_key={self._app_key!r}, base_path={self._base_path!r})"


class BearerAuth(AuthBase):
    """Send ``Authorization: Bearer <token>``, asking ``token_for`` on every request.

    Asking per request (rather than holding one token) lets a long pagination or a retry pick up a
    renewed token from the cache once the old one is about to expire. When Confluence refuses a
    token (401) before it expired, e.g. revoked, ``on_refused`` drops it from the cache and the
    request is sent once more with a fresh token, as requests' own digest auth re-sends after a
    challenge; a second 401 is returned as it is.
    """

    def __init__(self, token_for: Callable[[], str], on_refused: Callable[[], None] | None = None) -> None:
        self._token_for = token_for
        self._on_refused = on_refused

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token_for()}"
        if self._on_refused is not None and not getattr(r, _RETRIED, False):
            r.hooks.setdefault("response", []).append(self._retry_with_a_fresh_token)
        return r

    def _retry_with_a_fresh_token(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if (
            response.status_code != 401
            or self._on_refused is None
            or getattr(response.request, _RETRIED, False)
        ):
            return response
        self._on_refused()
        retry = response.request.copy()
        retry.hooks = {"response": []}  # this retry is the last one
        setattr(retry, _RETRIED, True)
        retry.headers["Authorization"] = f"Bearer {self._token_for()}"
        response.content  # noqa: B018  (read the body so the connection can be reused)
        response.close()
        fresh: requests.Response = response.connection.send(retry, **kwargs)
        fresh.history.append(response)
        fresh.request = retry
        return fresh

    def __repr__(self) -> str:
        return "BearerAuth(<token hidden>)"
