"""A Connect-on-Forge ``manifest.yml`` built from this deployment's Connect descriptor.

Atlassian stopped descriptor-URL installs of private Connect apps; a Connect app now ships as a Forge
app (https://developer.atlassian.com/platform/adopting-forge-from-connect/) whose manifest carries the
Connect modules (``connectModules``, module types prefixed with the product) and a ``remotes`` entry
pointing at this backend. The backend protocol is unchanged: the same
lifecycle callbacks, JWTs and REST calls.

The manifest is a function of the descriptor that ``/atlassian-connect.json`` serves (itself built from
``atlassian-connect.json`` and ``APP_BASE_URL``/``APP_KEY``/``APP_NAME``), so the two cannot drift:
every descriptor field is either carried into the manifest or listed in :data:`NOT_CARRIED` with the
reason, and a field this module has never heard of stops generation instead of being dropped.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import urlsplit

#: The product prefix of every Connect module type in ``connectModules``.
PRODUCT: Final = "confluence"
#: The remote's key in ``remotes`` and ``app.connect.remote``.
REMOTE_KEY: Final = "connect"
#: ``app.runtime``, which the manifest schema requires even for an app with no Forge functions.
RUNTIME: Final = {"name": "nodejs22.x"}
#: The lifecycle events Forge delivers to a Connect-on-Forge app (it sends no ``enabled``/``disabled``).
FORGE_LIFECYCLE: Final = ("installed", "uninstalled")
#: The key of the single ``<product>:lifecycle`` module (the validator allows only one).
LIFECYCLE_MODULE_KEY: Final = "lifecycle-events"

#: Descriptor fields the manifest carries, and where.
CARRIED: Final = {
    "key": "app.connect.key",
    "description": "app.description",
    "baseUrl": "remotes[].baseUrl",
    "authentication": "app.connect.authentication",
    "scopes": "permissions.scopes",
    "lifecycle": f"connectModules.{PRODUCT}:lifecycle",
    "modules": f"connectModules.{PRODUCT}:<module type>",
}
#: Descriptor fields a Connect-on-Forge manifest has no place for, and why that is safe.
NOT_CARRIED: Final = {
    "name": "a Forge app's name is set by 'forge register' and the developer console",
    "vendor": "the vendor is the Forge app's owner in the developer console",
    "apiVersion": "the manifest schema has no such field",
    "apiMigrations": "the manifest schema has no such field; this backend itself accepts only signed "
    "installs and context-qsh context tokens, whatever a host announces",
}


class ManifestError(ValueError):
    """The descriptor cannot be expressed as a valid Connect-on-Forge manifest."""


def forge_scope(connect_scope: str) -> str:
    """The Forge permission for a Connect scope: ``ACT_AS_USER`` -> ``act-as-user:connect-confluence``.

    This is the rule Atlassian's descriptor converter applies to every scope, so scopes Confluence adds
    later need no table here; Forge's validator still rejects a name it does not know.
    """
    return f"{connect_scope.lower().replace('_', '-')}:connect-{PRODUCT}"


def build_manifest(descriptor: dict[str, Any], *, app_id: str) -> dict[str, Any]:
    """Return the Forge manifest (as data) for a Confluence Connect descriptor.

    :param app_id: the Forge app ARI (``ari:cloud:ecosystem::app/<uuid>``) from ``forge register``.
    :raises ManifestError: for a non-https base URL or a descriptor field with no known place.
    """
    unknown = sorted(set(descriptor) - set(CARRIED) - set(NOT_CARRIED))
    if unknown:
        raise ManifestError(
            f"descriptor field(s) {', '.join(unknown)} have no place in the Forge manifest yet: "
            "teach app/connect/forge_manifest.py to carry them (or list them in NOT_CARRIED)"
        )
    base_url = descriptor["baseUrl"]
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ManifestError(
            f"APP_BASE_URL must be an https URL for a Forge remote, not {base_url!r}: "
            "Atlassian requires cloud apps to encrypt all traffic with TLS"
        )
    lifecycle = {
        event: url for event, url in descriptor.get("lifecycle", {}).items() if event in FORGE_LIFECYCLE
    }
    connect_modules: dict[str, Any] = {}
    if lifecycle:
        connect_modules[f"{PRODUCT}:lifecycle"] = [{"key": LIFECYCLE_MODULE_KEY, **lifecycle}]
    for module_type, modules in descriptor.get("modules", {}).items():
        connect_modules[f"{PRODUCT}:{module_type}"] = modules if isinstance(modules, list) else [modules]
    app: dict[str, Any] = {"id": app_id, "runtime": dict(RUNTIME)}
    if "description" in descriptor:
        app["description"] = descriptor["description"]
    app["connect"] = {
        "key": descriptor["key"],
        "remote": REMOTE_KEY,
        "authentication": descriptor.get("authentication", {}).get("type", "jwt"),
    }
    return {
        "app": app,
        "remotes": [{"key": REMOTE_KEY, "baseUrl": base_url}],
        "permissions": {"scopes": [forge_scope(scope) for scope in descriptor.get("scopes", [])]},
        "connectModules": connect_modules,
    }


def render_manifest(manifest: dict[str, Any]) -> str:
    """Render as YAML. JSON is a subset of YAML 1.2, so this needs no YAML library."""
    header = "# Generated by 'flask --app app forge manifest'; edit atlassian-connect.json instead.\n"
    return header + json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
