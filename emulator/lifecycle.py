"""Installing apps and sending their lifecycle callbacks, signed like Confluence Cloud signs them.

``installed``/``uninstalled`` carry an RS256 JWT (header ``kid``, ``aud`` = the app's baseUrl); ``enabled``/
``disabled`` carry an HS256 JWT signed with the stored shared secret
(https://developer.atlassian.com/cloud/confluence/security-for-connect-apps/).
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Any, Final
from urllib.parse import urlsplit

import jwt
import requests
from atlassian_jwt.url_utils import hash_url

from emulator import webhooks
from emulator.apps import AppRecord, DescriptorError, validate_descriptor
from emulator.state import EmulatorState

SERVER_VERSION: Final = "6452"
PLUGINS_VERSION: Final = "1001.0.0-SNAPSHOT"
TOKEN_LIFETIME: Final = 180


class LifecycleError(Exception):
    """A lifecycle step failed; ``status`` is the HTTP status the control API answers with."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def fetch_descriptor(url: str, timeout: float) -> dict[str, Any]:
    """GET and validate an app descriptor."""
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise LifecycleError(f"could not fetch the descriptor {url}: {exc}") from exc
    if response.status_code != 200:
        raise LifecycleError(f"descriptor {url} answered {response.status_code}: {response.text[:500]}")
    try:
        data = response.json()
    except ValueError as exc:
        raise LifecycleError(f"descriptor {url} is not JSON", 400) from exc
    try:
        return validate_descriptor(data)
    except DescriptorError as exc:
        raise LifecycleError(str(exc), 400) from exc


def _relative_to_app(app_base_url: str, target: str) -> tuple[str, str]:
    """(absolute URL, URL relative to the app baseUrl path) of a lifecycle URL."""
    try:
        return webhooks.app_url(app_base_url, target, "lifecycle")
    except ValueError as exc:
        raise LifecycleError(str(exc), 400) from exc


def payload(state: EmulatorState, record: AppRecord, event: str) -> dict[str, Any]:
    """The lifecycle JSON body (the same shape for every event, as Confluence sends it)."""
    site = state.site
    return {
        "key": record.key,
        "clientKey": site.client_key,
        "sharedSecret": record.shared_secret,
        "baseUrl": site.base_url,
        "displayUrl": site.base_url,
        "productType": "confluence",
        "description": f"{site.name} (Confluence emulator)",
        "serverVersion": SERVER_VERSION,
        "pluginsVersion": PLUGINS_VERSION,
        "eventType": event,
        "oauthClientId": record.oauth_client_id,
        "installationId": record.installation_id,
    }


def _token(state: EmulatorState, record: AppRecord, rel_url: str, event: str) -> str:
    if event not in ("installed", "uninstalled"):  # signed with the shared secret, as webhooks are
        return webhooks.token(state.site.client_key, record.shared_secret, rel_url)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": state.site.client_key,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "qsh": hash_url("POST", rel_url),
        "aud": record.descriptor["baseUrl"],
    }
    return jwt.encode(
        claims, state.signing_key.private_pem, algorithm="RS256", headers={"kid": state.signing_key.kid}
    )


def send_event(state: EmulatorState, record: AppRecord, event: str) -> bool:
    """POST one lifecycle event; False when the descriptor declares no URL for it. Raises on non-2xx."""
    target = record.descriptor.get("lifecycle", {}).get(event)
    if not isinstance(target, str):
        return False
    url, rel = _relative_to_app(record.base_url, target)
    headers = {
        "Authorization": f"JWT {_token(state, record, rel, event)}",
        "User-Agent": "Confluence-Emulator",
        "Content-Type": "application/json",
    }
    try:
        response = requests.post(
            url, json=payload(state, record, event), headers=headers, timeout=state.http_timeout
        )
    except requests.RequestException as exc:
        raise LifecycleError(f"{event} callback to {url} failed: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise LifecycleError(
            f"{event} callback to {url} answered {response.status_code}: {response.text[:500]}"
        )
    return True


def install(state: EmulatorState, descriptor_url: str) -> AppRecord:
    """Fetch the descriptor, send ``installed`` with a fresh secret, and register the app only on 2xx."""
    descriptor = fetch_descriptor(descriptor_url, state.http_timeout)
    existing = state.apps.get(descriptor["key"])
    record = AppRecord(
        key=descriptor["key"],
        descriptor_url=descriptor_url,
        descriptor=descriptor,
        shared_secret=secrets.token_urlsafe(32),
        oauth_client_id=existing.oauth_client_id if existing else secrets.token_urlsafe(24),
        installation_id=(
            existing.installation_id if existing else f"ari:cloud:ecosystem::installation/{uuid.uuid4()}"
        ),
    )
    send_event(state, record, "installed")
    state.apps.put(record)
    state.list_cache.clear()
    return record


def require(state: EmulatorState, key: str) -> AppRecord:
    """The installed app ``key`` or a 404 :class:`LifecycleError`."""
    record = state.apps.get(key)
    if record is None:
        raise LifecycleError(f"no installed app with key {key!r}", 404)
    return record


def reinstall(state: EmulatorState, key: str) -> AppRecord:
    """Re-fetch the descriptor and install again with a NEW shared secret (RS256-signed)."""
    return install(state, require(state, key).descriptor_url)


def uninstall(state: EmulatorState, key: str) -> None:
    """Send ``uninstalled`` (RS256); forget the app even if the app answers with an error, like Confluence."""
    record = require(state, key)
    try:
        send_event(state, record, "uninstalled")
    finally:
        state.apps.remove(key)


def set_enabled(state: EmulatorState, key: str, enabled: bool) -> AppRecord:
    """Send ``enabled``/``disabled`` (HS256 with the stored secret) and flip the flag on success."""
    record = require(state, key)
    send_event(state, record, "enabled" if enabled else "disabled")
    state.apps.set_enabled(key, enabled)
    updated = state.apps.get(key)
    assert updated is not None
    return updated


CLIENT_KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,100}")
LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost")


def migrate(state: EmulatorState, client_key: str | None = None) -> dict[str, Any]:
    """An import into a new site at the same baseUrl: a new clientKey, and every app installed afresh.

    The old installations end at once (their secrets and OAuth tokens stop working); each app then gets a
    signed ``installed`` for the new clientKey with a new shared secret, ``oauthClientId`` and
    ``installationId``. An app whose callback fails is not installed on the new site (listed in ``failed``).
    """
    if client_key is not None and not CLIENT_KEY_PATTERN.fullmatch(client_key):
        raise LifecycleError("'clientKey' must be 1-100 characters of letters, digits and . _ : -", 400)
    with state.lock:
        previous = state.site.client_key
        port = urlsplit(state.site.base_url).port
        new_key = client_key or f"emulator-{port}-{secrets.token_hex(4)}"
        if new_key == previous:
            raise LifecycleError("'clientKey' is the site's current clientKey", 400)
        apps = state.apps.all()
        for record in apps:
            state.apps.remove(record.key)
        state.tokens.clear()
        state.site.client_key = new_key
        state.list_cache.clear()
        installed: list[dict[str, Any]] = []
        failed: list[dict[str, str]] = []
        for record in apps:
            try:
                installed.append(install(state, record.descriptor_url).summary())
            except LifecycleError as exc:
                failed.append({"key": record.key, "error": str(exc)})
        return {
            "clientKey": new_key,
            "previousClientKey": previous,
            "baseUrl": state.site.base_url,
            "apps": installed,
            "failed": failed,
        }


def parse_site_url(state: EmulatorState, value: object) -> str:
    """A new baseUrl this emulator can answer on: http, a loopback name, the same port, path ``/wiki``."""
    if not isinstance(value, str):
        raise LifecycleError("'baseUrl' must be a string", 400)
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError as exc:
        raise LifecycleError(f"'baseUrl' has a bad port: {value!r}", 400) from exc
    current_port = urlsplit(state.site.base_url).port
    if (
        parts.scheme != "http"
        or parts.hostname not in LOOPBACK_NAMES
        or parts.username is not None
        or parts.query
        or parts.fragment
        or port != current_port
        or parts.path.rstrip("/") != "/wiki"
    ):
        raise LifecycleError(
            f"'baseUrl' must be http://127.0.0.1:{current_port}/wiki or http://localhost:{current_port}/wiki",
            400,
        )
    return f"http://{parts.hostname}:{port}/wiki"


def rename(state: EmulatorState, base_url: object) -> dict[str, Any]:
    """The site gets a new baseUrl (same clientKey, secrets and installations); each app is told with a
    signed ``installed`` carrying the new ``baseUrl``. Failures are listed, the apps stay installed."""
    new_url = parse_site_url(state, base_url)
    with state.lock:
        previous = state.site.base_url
        if new_url == previous:
            raise LifecycleError("'baseUrl' is the site's current baseUrl", 400)
        state.site.base_url = new_url
        state.list_cache.clear()
        notified: list[str] = []
        failed: list[dict[str, str]] = []
        for record in state.apps.all():
            try:
                if send_event(state, record, "installed"):
                    notified.append(record.key)
            except LifecycleError as exc:
                failed.append({"key": record.key, "error": str(exc)})
        return {
            "baseUrl": new_url,
            "previousBaseUrl": previous,
            "clientKey": state.site.client_key,
            "notified": notified,
            "failed": failed,
        }
