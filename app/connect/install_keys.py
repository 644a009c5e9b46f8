"""Atlassian's install public keys, fetched by ``kid`` and cached in the process.

A ``kid`` names one published key
(https://developer.atlassian.com/cloud/confluence/security-for-connect-apps/, signed install): a rotation
publishes a *new* ``kid``, so a key once fetched for a ``kid`` never changes and may be cached for the life
of the process. Failures are cached briefly, so a flood of tokens naming unknown ``kid``s cannot make us
hammer the key service.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Final

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.errors import InstallKeyError

_KID_PATTERN: Final = re.compile(r"^[A-Za-z0-9._\-]{1,200}$")
_MAX_KEY_BYTES: Final = 16_384
_MAX_CACHED: Final = 256
_FAILURE_TTL_SECONDS: Final = 30.0


class InstallKeyCache:
    """Fetch ``{base_url}/{kid}`` once per kid; thread-safe; failures remembered for a short while."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock
        self._keys: dict[str, RSAPublicKey] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def public_key_for(self, kid: str) -> RSAPublicKey:
        """Return the RSA public key for ``kid`` or raise InstallKeyError (a 401)."""
        if not _KID_PATTERN.match(kid):
            raise InstallKeyError(kid, "malformed key id")
        with self._lock:
            key = self._keys.get(kid)
            failure = self._failures.get(kid)
        if key is not None:
            return key
        if failure is not None and self._clock() - failure[0] < _FAILURE_TTL_SECONDS:
            raise InstallKeyError(kid, failure[1])
        try:
            key = self._fetch(kid)
        except InstallKeyError as exc:
            with self._lock:
                self._failures[kid] = (self._clock(), exc.reason)
            raise
        with self._lock:
            if len(self._keys) >= _MAX_CACHED:
                self._keys.pop(next(iter(self._keys)))
            self._keys[kid] = key
            self._failures.pop(kid, None)
        return key

    def _fetch(self, kid: str) -> RSAPublicKey:
        try:
            response = self._session.get(
                f"{self._base_url}/{kid}", timeout=self._timeout, allow_redirects=False
            )
        except requests.RequestException:
            raise InstallKeyError(kid, "the key service could not be reached") from None
        if response.status_code != 200:
            raise InstallKeyError(kid, f"the key service answered {response.status_code}")
        if len(response.content) > _MAX_KEY_BYTES:
            raise InstallKeyError(kid, "the key is too large")
        try:
            key = load_pem_public_key(response.content)
        except (ValueError, TypeError):
            raise InstallKeyError(kid, "the key is not a PEM public key") from None
        if not isinstance(key, RSAPublicKey):
            raise InstallKeyError(kid, "the key is not an RSA key")
        return key
