"""A test kit that plays Atlassian: the install-keys service, signed installs, product-signed URLs.

Tokens here are built with PyJWT directly (not with the app's signing code), so tests of the app's
verification are not circular. qsh values come from Atlassian's ``atlassian-jwt`` package.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from atlassian_jwt.url_utils import hash_url
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.kit.confluence import ADMIN_ACCOUNT, FakeConfluence
from tests.kit.live import LiveServer

#: Query values that canonicalisation gets wrong most often: spaces, "+", "*", "~", "&", non-ASCII,
#: an empty value and a repeated name (docs/qsh.md).
AWKWARD_QUERY: list[tuple[str, str]] = [
    ("q", "with spaces"),
    ("plus", "1 + 1"),
    ("star", "connect*"),
    ("tilde", "in ~3 days"),
    ("amp", "a&b=c"),
    ("unicode", "宮崎 駿 Überblick"),
    ("empty", ""),
    ("ids", "2"),
    ("ids", "10"),
]


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class KeyServer:
    """Atlassian's install-keys service on loopback: ``GET /{kid}`` answers the PEM public key."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.requests: list[str] = []
        self._server = LiveServer(self._wsgi)
        self.url = self._server.url

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        kid = environ.get("PATH_INFO", "").lstrip("/")
        self.requests.append(kid)
        pem = self.keys.get(kid)
        if pem is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "application/x-pem-file")])
        return [pem]

    def publish(self, kid: str, key: rsa.RSAPrivateKey) -> None:
        self.keys[kid] = public_pem(key)

    def start(self) -> KeyServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def relative_url(path: str, params: Mapping[str, str] | list[tuple[str, str]] | None = None) -> str:
    query = urlencode(params or {}, doseq=True)
    return f"{path}?{query}" if query else path


def qsh(method: str, url: str) -> str:
    """Atlassian's own qsh for a URL relative to the receiver's base path."""
    return str(hash_url(method, url))


@dataclass
class Site:
    """A Confluence site as the app sees it: its clientKey, base URL and shared secret."""

    client_key: str = field(default_factory=lambda: f"site-{uuid.uuid4().hex[:12]}")
    base_url: str = "https://acme.atlassian.net/wiki"
    shared_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    oauth_client_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Called before an install is sent (e.g. to tell a fake Confluence the new secret).
    on_install: Callable[[Site], None] | None = field(default=None, repr=False, compare=False)

    def payload(self, event: str, *, app_key: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "key": app_key,
            "clientKey": self.client_key,
            "sharedSecret": self.shared_secret,
            "baseUrl": self.base_url,
            "displayUrl": self.base_url,
            "productType": "confluence",
            "description": "Acme docs",
            "serverVersion": "6452",
            "pluginsVersion": "1001.0.0-SNAPSHOT",
            "eventType": event,
            "oauthClientId": self.oauth_client_id,
            "installationId": f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}

    def host_token(
        self,
        method: str,
        url: str,
        *,
        sub: str | None = ADMIN_ACCOUNT,
        now: int | None = None,
        lifetime: int = 180,
        secret: str | None = None,
        **claims: Any,
    ) -> str:
        """An HS256 token as Confluence signs one for ``url`` (relative to the app's base path)."""
        issued = int(time.time()) if now is None else now
        body: dict[str, Any] = {
            "iss": self.client_key,
            "iat": issued,
            "exp": issued + lifetime,
            "qsh": qsh(method, url),
            "context": {},
        }
        if sub is not None:
            body["sub"] = sub
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, secret or self.shared_secret, algorithm="HS256")

    def context_token(self, *, sub: str = ADMIN_ACCOUNT, now: int | None = None, **claims: Any) -> str:
        """A context JWT as ``AP.context.getToken()`` returns it (qsh = ``context-qsh``)."""
        return self.host_token("GET", "/", sub=sub, now=now, qsh="context-qsh", **claims)

    def signed_url(
        self, path: str, params: Mapping[str, str] | list[tuple[str, str]] | None = None, **token_kwargs: Any
    ) -> str:
        """``path?query&jwt=…`` as Confluence puts it in an iframe's ``src``."""
        url = relative_url(path, params)
        token = self.host_token("GET", url, **token_kwargs)
        return f"{url}{'&' if '?' in url else '?'}jwt={token}"


class Atlassian:
    """Signs installs with an RSA key published on a loopback key server."""

    def __init__(self, key_server: KeyServer, key: rsa.RSAPrivateKey, kid: str) -> None:
        self.key_server = key_server
        self.key = key
        self.kid = kid

    def install_token(
        self,
        site: Site,
        *,
        audience: str | list[str] | None,
        url: str = "/lifecycle/installed",
        method: str = "POST",
        now: int | None = None,
        lifetime: int = 60,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        **claims: Any,
    ) -> str:
        issued = int(time.time()) if now is None else now
        body: dict[str, Any] = {
            "iss": site.client_key,
            "aud": audience,
            "iat": issued,
            "exp": issued + lifetime,
            "qsh": qsh(method, url),
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@contextmanager
def running_atlassian() -> Iterator[Atlassian]:
    """Start a key server with one published key."""
    server = KeyServer().start()
    key = generate_rsa_key()
    kid = f"kid-{uuid.uuid4().hex[:8]}"
    server.publish(kid, key)
    try:
        yield Atlassian(server, key, kid)
    finally:
        server.stop()


def site_path(url: str) -> str:
    """The path and query of a URL (for the Flask test client)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def install_over_http(base_url: str, atlassian: Atlassian, confluence: FakeConfluence, site: Site) -> str:
    """Install the app served at ``base_url`` into ``site`` as Atlassian does, over real HTTP.

    Reads the app's key from its descriptor, lets the fake Confluence accept the site's secret, posts a
    signed ``installed`` and checks the 204. Returns the install token (tests look for it in logs).
    """
    key = requests.get(f"{base_url}/atlassian-connect.json", timeout=10).json()["key"]
    confluence.register(key, site.shared_secret, base_url)
    return _signed_lifecycle_over_http(base_url, atlassian, site, "installed", key)


def uninstall_over_http(base_url: str, atlassian: Atlassian, site: Site) -> str:
    """Post a signed ``uninstalled`` for ``site`` to the app at ``base_url``; checks the 204."""
    key = requests.get(f"{base_url}/atlassian-connect.json", timeout=10).json()["key"]
    return _signed_lifecycle_over_http(base_url, atlassian, site, "uninstalled", key)


def _signed_lifecycle_over_http(base_url: str, atlassian: Atlassian, site: Site, event: str, key: str) -> str:
    token = atlassian.install_token(site, audience=base_url, url=f"/lifecycle/{event}")
    response = requests.post(
        f"{base_url}/lifecycle/{event}",
        json=site.payload(event, app_key=key),
        headers={"Authorization": f"JWT {token}"},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    return token
