"""Installed Connect apps: their descriptors, shared secrets and state, and descriptor validation."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from emulator.people import app_account_id


class DescriptorError(ValueError):
    """The descriptor cannot be installed; the message says which rule it broke."""


@dataclass(frozen=True)
class AppRecord:
    """One installed app as the site remembers it (the secret never appears in ``repr``)."""

    key: str
    descriptor_url: str
    descriptor: dict[str, Any]
    shared_secret: str
    oauth_client_id: str
    installation_id: str
    enabled: bool = True

    def __repr__(self) -> str:
        return f"AppRecord(key={self.key!r}, base_url={self.base_url!r}, enabled={self.enabled})"

    @property
    def base_url(self) -> str:
        """The descriptor ``baseUrl`` without a trailing slash."""
        return str(self.descriptor["baseUrl"]).rstrip("/")

    @property
    def scopes(self) -> set[str]:
        """Declared scopes, upper-cased (Connect scopes are case-insensitive)."""
        return {str(s).upper() for s in self.descriptor.get("scopes", [])}

    def modules(self, module_type: str) -> list[dict[str, Any]]:
        """Modules of one type as a list (``configurePage`` and ``postInstallPage`` are single objects)."""
        found = self.descriptor.get("modules", {}).get(module_type, [])
        if isinstance(found, dict):
            return [found]
        return [m for m in found if isinstance(m, dict)] if isinstance(found, list) else []

    def summary(self) -> dict[str, Any]:
        """Public facts about the app (no secret)."""
        return {
            "key": self.key,
            "baseUrl": self.base_url,
            "descriptorUrl": self.descriptor_url,
            "enabled": self.enabled,
            "oauthClientId": self.oauth_client_id,
            "installationId": self.installation_id,
            "accountId": app_account_id(self.key),
        }


def validate_descriptor(data: object) -> dict[str, Any]:
    """Check the fields the install flow depends on; raise :class:`DescriptorError` with a clear reason."""
    if not isinstance(data, dict):
        raise DescriptorError("descriptor is not a JSON object")
    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise DescriptorError("descriptor has no 'key'")
    base_url = data.get("baseUrl")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise DescriptorError("descriptor 'baseUrl' must be an absolute http(s) URL")
    auth = data.get("authentication")
    if not isinstance(auth, dict) or str(auth.get("type", "")).lower() != "jwt":
        raise DescriptorError("descriptor 'authentication.type' must be 'jwt'")
    lifecycle = data.get("lifecycle")
    if not isinstance(lifecycle, dict) or not isinstance(lifecycle.get("installed"), str):
        raise DescriptorError("descriptor has no 'lifecycle.installed' URL")
    return data


class AppRegistry:
    """Apps by key; an app is added only after its ``installed`` callback succeeded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, AppRecord] = {}

    def get(self, key: str) -> AppRecord | None:
        """The installed app with this key, if any."""
        with self._lock:
            return self._apps.get(key)

    def by_oauth_client_id(self, client_id: str) -> AppRecord | None:
        """The installed app that was given this ``oauthClientId``, if any."""
        with self._lock:
            return next((a for a in self._apps.values() if a.oauth_client_id == client_id), None)

    def all(self) -> list[AppRecord]:
        """Every installed app, in install order."""
        with self._lock:
            return list(self._apps.values())

    def put(self, record: AppRecord) -> None:
        """Store (or replace) an installed app."""
        with self._lock:
            self._apps[record.key] = record

    def set_enabled(self, key: str, enabled: bool) -> None:
        """Flip an app's enabled flag (no-op for an unknown key)."""
        with self._lock:
            if key in self._apps:
                self._apps[key] = replace(self._apps[key], enabled=enabled)

    def remove(self, key: str) -> None:
        """Forget an uninstalled app; its secret stops working at once."""
        with self._lock:
            self._apps.pop(key, None)
