"""The Confluence REST client: signing, act-as-user tokens, retries, cursor pagination (no Flask, no DB)."""

from __future__ import annotations

from app.confluence.auth import BearerAuth as BearerAuth
from app.confluence.auth import ConnectJWTAuth as ConnectJWTAuth
from app.confluence.client import ConfluenceClient as ConfluenceClient
from app.confluence.events import ClientEvent as ClientEvent
from app.confluence.factory import ClientSettings as ClientSettings
from app.confluence.factory import TenantCredentials as TenantCredentials
from app.confluence.factory import client_as_app as client_as_app
from app.confluence.factory import client_as_user as client_as_user
from app.confluence.oauth import TokenCache as TokenCache
from app.confluence.retry import RetryPolicy as RetryPolicy
from app.confluence.transport import Transport as Transport

__all__ = [
    "BearerAuth",
    "ClientEvent",
    "ClientSettings",
    "ConfluenceClient",
    "ConnectJWTAuth",
    "RetryPolicy",
    "TenantCredentials",
    "TokenCache",
    "Transport",
    "client_as_app",
    "client_as_user",
]
