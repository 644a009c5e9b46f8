"""Tenant shared secrets sealed at rest with Fernet (``cryptography``: AES-CBC with an HMAC-SHA256).

With ``APP_SECRETS_KEYS`` set (one or more Fernet keys, comma-separated, newest first), every shared
secret written to the database is sealed, and every one read is opened, by the column type
:class:`SealedString`; the rest of the app only ever sees plaintext. Older keys still open what they
sealed (``MultiFernet``), so keys rotate by prepending a new one and running
``flask --app app tenants seal-secrets``. Without keys, secrets are stored as given (development);
production refuses to start without them.

The keys live in process state set by ``create_app`` because a column type cannot see the Flask
config; one process serves one configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.errors import SecretsUnavailableError

PREFIX: Final = "fernet:"


class SecretBox:
    """Seals and opens secrets with the configured keys; a box without keys stores plaintext."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys]) if keys else None

    @property
    def sealing(self) -> bool:
        return self._fernet is not None

    def seal(self, plaintext: str) -> str:
        if self._fernet is None:
            return plaintext
        return PREFIX + self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before keys were configured
        if self._fernet is None:
            raise SecretsUnavailableError("a sealed secret was read but APP_SECRETS_KEYS is not set")
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SecretsUnavailableError("no configured key opens a sealed secret") from None

    def reseal(self, stored: str) -> str:
        """Return ``stored`` sealed with the newest key (plaintext rows get sealed)."""
        return self.seal(self.open(stored))


def parse_keys(raw: str) -> list[str]:
    """Split and check ``APP_SECRETS_KEYS``; raise ValueError naming what is wrong."""
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    for key in keys:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ValueError("each key must be a Fernet key (32 url-safe base64-encoded bytes)") from None
    return keys


_box = SecretBox()


def configure(keys: Sequence[str]) -> None:
    """Use ``keys`` for every sealed column of this process."""
    global _box
    _box = SecretBox(keys)


def current_box() -> SecretBox:
    return _box


class SealedString(sa.types.TypeDecorator[str]):
    """A string column whose values are sealed on the way in and opened on the way out."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else _box.seal(str(value))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else _box.open(str(value))
