"""Build clients from a tenant's credentials and the app's settings, without importing the tenant store.

Anything with the attributes of :class:`TenantCredentials` (the ``Tenant`` row, a test double) will do,
so this package stays free of the database (docs/architecture.md: ``confluence/`` never touches it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

import requests

from app.confluence.auth import BearerAuth, ConnectJWTAuth
from app.confluence.client import ConfluenceClient
from app.confluence.events import EventHook
from app.confluence.oauth import DEFAULT_OAUTH_URL, TokenCache, UserTokenSource
from app.confluence.pagination import DEFAULT_MAX_PAGES
from app.confluence.retry import RetryPolicy
from app.confluence.transport import Transport


def _version() -> str:
    try:
        return metadata.version("confluence-freshness")
    except metadata.PackageNotFoundError:  # running from a checkout that was not pip-installed
        return "dev"


DEFAULT_USER_AGENT = f"confluence-freshness/{_version()} (+python-requests)"


class TenantCredentials(Protocol):
    """What a client needs to know about a tenant (``app.tenants.models.Tenant`` fits)."""

    @property
    def client_key(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def shared_secret(self) -> str: ...
    @property
    def oauth_client_id(self) -> str | None: ...


@dataclass(frozen=True)
class ClientSettings:
    """App-wide client settings; :meth:`from_config` reads them from the Flask config mapping."""

    app_key: str
    oauth_url: str = DEFAULT_OAUTH_URL
    timeout: float = 10.0
    max_attempts: int = 5
    max_retry_after: float = 30.0
    max_total_seconds: float = 60.0
    max_pages: int = DEFAULT_MAX_PAGES
    user_agent: str = DEFAULT_USER_AGENT

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientSettings:
        """Read ``KEY``, ``OAUTH_URL``, ``CONFLUENCE_TIMEOUT`` and the optional ``CONFLUENCE_MAX_*`` keys."""
        defaults = cls(app_key=str(config["KEY"]))
        return cls(
            app_key=defaults.app_key,
            oauth_url=str(config.get("OAUTH_URL") or defaults.oauth_url),
            timeout=float(config.get("CONFLUENCE_TIMEOUT", defaults.timeout)),
            max_attempts=int(config.get("CONFLUENCE_MAX_ATTEMPTS", defaults.max_attempts)),
            max_retry_after=float(config.get("CONFLUENCE_MAX_RETRY_AFTER", defaults.max_retry_after)),
            max_total_seconds=float(config.get("CONFLUENCE_MAX_TOTAL_SECONDS", defaults.max_total_seconds)),
            max_pages=int(config.get("CONFLUENCE_MAX_PAGES", defaults.max_pages)),
        )

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            max_total_seconds=self.max_total_seconds,
            max_retry_after=self.max_retry_after,
        )


def make_transport(
    settings: ClientSettings,
    session: requests.Session | None = None,
    on_event: EventHook | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Transport:
    """Return a transport with the settings' timeout, User-Agent and retry policy."""
    return Transport(
        session or requests.Session(),
        timeout=settings.timeout,
        user_agent=settings.user_agent,
        policy=settings.policy,
        on_event=on_event,
        sleep=sleep,
    )


def client_as_app(
    creds: TenantCredentials,
    settings: ClientSettings,
    session: requests.Session | None = None,
    on_event: EventHook | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> ConfluenceClient:
    """Return a client that calls the tenant as the app (Connect JWT per request)."""
    auth = ConnectJWTAuth(
        app_key=settings.app_key, shared_secret=creds.shared_secret, base_url=creds.base_url, clock=clock
    )
    transport = make_transport(settings, session, on_event, sleep=sleep)
    return ConfluenceClient(creds.base_url, auth, transport, max_pages=settings.max_pages)


def client_as_user(
    creds: TenantCredentials,
    account_id: str,
    settings: ClientSettings,
    token_cache: TokenCache,
    scopes: Iterable[str] = ("READ",),
    session: requests.Session | None = None,
    on_event: EventHook | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> ConfluenceClient:
    """Return a client that calls the tenant as ``account_id`` (OAuth 2.0 JWT-bearer, cached tokens).

    :raises ValueError: the tenant has no ``oauthClientId`` (the app lacks the ``ACT_AS_USER`` scope).
    """
    if not creds.oauth_client_id:
        raise ValueError("This tenant has no oauthClientId: acting as a user needs the ACT_AS_USER scope.")
    transport = make_transport(settings, session, on_event, sleep=sleep)
    source = UserTokenSource(
        transport=transport,
        cache=token_cache,
        client_key=creds.client_key,
        base_url=creds.base_url,
        shared_secret=creds.shared_secret,
        oauth_client_id=creds.oauth_client_id,
        account_id=account_id,
        scopes=scopes,
        oauth_url=settings.oauth_url,
        clock=clock,
    )
    return ConfluenceClient(
        creds.base_url, BearerAuth(source, on_refused=source.forget), transport, max_pages=settings.max_pages
    )
