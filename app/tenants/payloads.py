"""Parse lifecycle payloads at the edge: Connect's wire names stop here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from app.errors import InvalidPayloadError

_MAX_FIELD: Final = 2048


def _text(body: Mapping[str, Any], name: str, *, required: bool, limit: int = 255) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidPayloadError(f"The lifecycle payload is missing {name!r}.")
        return None
    if not isinstance(value, str):
        raise InvalidPayloadError(f"The lifecycle payload field {name!r} must be a string.")
    if len(value) > limit:
        raise InvalidPayloadError(f"The lifecycle payload field {name!r} is too long.")
    return value


def _url(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = _text(body, name, required=required)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise InvalidPayloadError(f"The lifecycle payload field {name!r} is not a valid site URL.")
    return value.rstrip("/")


@dataclass(frozen=True)
class LifecyclePayload:
    """What a lifecycle callback tells us about a site; ``shared_secret`` is never in ``repr``."""

    event_type: str
    app_key: str
    client_key: str
    base_url: str
    product_type: str
    shared_secret: str | None = field(default=None, repr=False)
    display_url: str | None = None
    description: str | None = None
    oauth_client_id: str | None = None
    installation_id: str | None = None
    server_version: str | None = None
    plugins_version: str | None = None

    @classmethod
    def from_json(cls, body: Any, *, expected_event: str) -> LifecyclePayload:
        """Parse a lifecycle body; raise InvalidPayloadError (400) with a short reason."""
        if not isinstance(body, Mapping):
            raise InvalidPayloadError("The lifecycle payload must be a JSON object.")
        event = _text(body, "eventType", required=True)
        if event != expected_event:
            raise InvalidPayloadError(f"This URL accepts only the {expected_event!r} event.")
        secret = _text(body, "sharedSecret", required=expected_event == "installed", limit=512)
        return cls(
            event_type=expected_event,
            app_key=_text(body, "key", required=True, limit=80) or "",
            client_key=_text(body, "clientKey", required=True) or "",
            base_url=_url(body, "baseUrl", required=True) or "",
            product_type=_text(body, "productType", required=False, limit=32) or "confluence",
            shared_secret=secret,
            display_url=_url(body, "displayUrl", required=False),
            description=_text(body, "description", required=False, limit=_MAX_FIELD),
            oauth_client_id=_text(body, "oauthClientId", required=False),
            installation_id=_text(body, "installationId", required=False, limit=512),
            server_version=_text(body, "serverVersion", required=False, limit=64),
            plugins_version=_text(body, "pluginsVersion", required=False, limit=64),
        )
