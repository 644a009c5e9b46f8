"""Acting as a user: the OAuth 2.0 JWT-bearer grant and a thread-safe cache of the bearer tokens.

Spec: "User impersonation for Connect apps",
https://developer.atlassian.com/cloud/confluence/user-impersonation-for-connect-apps/. The assertion is an
HS256 JWT signed with the tenant's shared secret (``iss`` =
``urn:atlassian:connect:clientid:<oauthClientId>``, ``sub`` = the user's account URN, ``tnt`` = the tenant
baseUrl *with* ``/wiki``, ``aud`` = the authorization server); it is exchanged at
``{oauth_url}/oauth2/token`` for a short-lived bearer token, cached until shortly before it expires. Tokens
and secrets never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from app.confluence.errors import json_body
from app.confluence.transport import Transport
from app.connect.tokens import sign_hs256
from app.errors import ConfluenceBadResponseError

DEFAULT_OAUTH_URL: Final = "https://oauth-2-authorization-server.services.atlassian.com"
GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: An assertion is used once, at once: keep it short-lived (the emulator refuses one valid over 120 s).
ASSERTION_LIFETIME_SECONDS: Final = 30
#: Renew a cached token this long before it expires (at most; a tenth of short lifetimes).
RENEW_MARGIN_SECONDS: Final = 30.0


def normalise_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Return the scope set as Atlassian expects it: upper-case names, duplicates and blanks gone."""
    return frozenset(part.upper() for scope in scopes for part in scope.split() if part)


def build_assertion(
    *,
    oauth_client_id: str,
    account_id: str,
    base_url: str,
    shared_secret: str,
    oauth_url: str,
    now: int,
    lifetime: int = ASSERTION_LIFETIME_SECONDS,
) -> str:
    """Return the signed JWT-bearer assertion for acting as ``account_id`` on the tenant at ``base_url``."""
    claims = {
        "iss": f"urn:atlassian:connect:clientid:{oauth_client_id}",
        "sub": f"urn:atlassian:connect:useraccountid:{account_id}",
        "tnt": base_url.rstrip("/"),
        "aud": oauth_url.rstrip("/"),
        "iat": now,
        "exp": now + lifetime,
    }
    return sign_hs256(claims, shared_secret)


def request_token(
    transport: Transport, *, oauth_url: str, assertion: str, scopes: frozenset[str]
) -> tuple[str, float]:
    """Exchange an assertion for ``(access_token, expires_in)`` at the authorization server."""
    form = {"grant_type": GRANT_TYPE, "assertion": assertion}
    if scopes:
        form["scope"] = " ".join(sorted(scopes))
    # Fetching a token has no side effect, so it is retried like a GET.
    response = transport.send("POST", f"{oauth_url.rstrip('/')}/oauth2/token", data=form, idempotent=True)
    body = json_body(response, "POST")
    token = body.get("access_token") if isinstance(body, dict) else None
    expires_in = body.get("expires_in") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
        raise ConfluenceBadResponseError(
            "The authorization server's answer has no access_token or expires_in",
            method="POST",
            url=response.url,
            status=response.status_code,
        )
    return token, float(expires_in)


@dataclass(frozen=True)
class TokenKey:
    """What a bearer token is valid for. ``secret_digest`` makes a reinstall (new secret) miss the cache."""

    client_key: str
    account_id: str
    scopes: frozenset[str]
    secret_digest: str = field(repr=False)

    @classmethod
    def for_user(
        cls, client_key: str, account_id: str, scopes: Iterable[str], shared_secret: str
    ) -> TokenKey:
        digest = hashlib.sha256(b"bearer-cache:" + shared_secret.encode()).hexdigest()
        return cls(client_key, account_id, normalise_scopes(scopes), digest)


@dataclass
class _Entry:
    token: str = field(repr=False)
    renew_at: float


class TokenCache:
    """Bearer tokens per :class:`TokenKey`, shared by threads; one fetch per key at a time.

    A lock per key makes concurrent callers for the same user wait for the one token request
    in flight instead of each asking the authorization server.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[TokenKey, _Entry] = {}
        self._locks: dict[TokenKey, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: TokenKey, fetch: Callable[[], tuple[str, float]]) -> str:
        """Return a cached token for ``key`` that is not about to expire, fetching one if needed.

        :param fetch: returns ``(access_token, expires_in_seconds)``; called with the key's lock held.
        """
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is not None and self._clock() < entry.renew_at:
                return entry.token
            token, expires_in = fetch()
            margin = min(RENEW_MARGIN_SECONDS, expires_in / 10)
            self._entries[key] = _Entry(token, self._clock() + expires_in - margin)
            return token

    def forget(self, key: TokenKey) -> None:
        """Drop the token for ``key`` (e.g. after Confluence refused it with a 401)."""
        with self._guard:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TokenCache(<{len(self._entries)} tokens hidden>)"


class UserTokenSource:
    """A callable returning a valid bearer token for one user of one tenant (for ``BearerAuth``)."""

    def __init__(
        self,
        *,
        transport: Transport,
        cache: TokenCache,
        client_key: str,
        base_url: str,
        shared_secret: str,
        oauth_client_id: str,
        account_id: str,
        scopes: Iterable[str] = (),
        oauth_url: str = DEFAULT_OAUTH_URL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._cache = cache
        self._base_url = base_url
        self._secret = shared_secret
        self._oauth_client_id = oauth_client_id
        self._account_id = account_id
        self._oauth_url = oauth_url
        self._clock = clock
        self.key = TokenKey.for_user(client_key, account_id, scopes, shared_secret)

    def __call__(self) -> str:
        return self._cache.get(self.key, self._fetch)

    def forget(self) -> None:
        """Drop this user's cached token (Confluence refused it)."""
        self._cache.forget(self.key)

    def _fetch(self) -> tuple[str, float]:
        assertion = build_assertion(
            oauth_client_id=self._oauth_client_id,
            account_id=self._account_id,
            base_url=self._base_url,
            shared_secret=self._secret,
            oauth_url=self._oauth_url,
            now=int(self._clock()),
        )
        return request_token(
            self._transport, oauth_url=self._oauth_url, assertion=assertion, scopes=self.key.scopes
        )

    def __repr__(self) -> str:
        return f"UserTokenSource(client_key={self.key.client_key!r}, account_id={self.key.account_id!r})"
