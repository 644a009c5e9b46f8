"""Iframe URLs for app modules, built and signed the way Confluence builds them (see docs/emulator.md).

The module ``url`` template is filled with URL-encoded context values, Confluence's own parameters are
appended, and an HS256 ``jwt`` whose qsh covers all of them (relative to the app's baseUrl path) is added.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import jwt
from atlassian_jwt.url_utils import hash_url

from emulator.apps import AppRecord
from emulator.site import Content, Space
from emulator.state import EmulatorState

CONNECT_VERSION: Final = "1001.0.0-SNAPSHOT"
IFRAME_TOKEN_LIFETIME: Final = 180
CONTEXT_TOKEN_LIFETIME: Final = 300
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Frame:
    """One iframe to render: where it points and what the host script needs to serve its messages."""

    app_key: str
    module_key: str
    title: str
    src: str
    app_origin: str
    channel: str
    page_id: str
    space_key: str
    space_id: str
    height: str
    context: dict[str, Any]


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def macro_context(space: Space, page: Content, app_key: str, module_key: str) -> dict[str, str]:
    """Values for a dynamic content macro's URL template on a saved page being displayed."""
    ident = f"{page.id}:{app_key}:{module_key}"
    return {
        "page.id": str(page.id),
        "page.version": str(page.version),
        "page.title": page.title,
        "page.type": "page",
        "space.key": space.key,
        "space.id": str(space.id),
        "content.id": str(page.id),
        "content.version": str(page.version),
        "content.type": "page",
        "macro.id": str(uuid.uuid5(uuid.NAMESPACE_URL, ident)),
        "macro.hash": hashlib.sha256(ident.encode()).hexdigest(),
        "macro.body": "",
        "macro.truncated": "false",
        "output.type": "display",
    }


def fill_template(template: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders with URL-encoded values; unknown names become empty."""
    return _PLACEHOLDER.sub(lambda m: quote(values.get(m.group(1), ""), safe=""), template)


def build_frame(
    state: EmulatorState,
    app: AppRecord,
    module: dict[str, Any],
    values: dict[str, str],
    viewer: str,
    *,
    page: Content | None = None,
    space: Space | None = None,
) -> Frame:
    """Fill, extend and sign the module URL for ``viewer``."""
    module_key = str(module.get("key", ""))
    values = dict(values)
    for param in module.get("parameters", []) or []:
        ident = str(param.get("identifier", ""))
        if ident and ident not in values:
            values[ident] = str(param.get("defaultValue", "") or "")
    relative = fill_template(str(module.get("url", "/")), values)
    if not relative.startswith("/"):
        relative = "/" + relative
    channel = f"channel-{app.key}__{module_key}"
    extra = [
        ("xdm_e", state.origin),
        ("xdm_c", channel),
        ("cp", "/wiki"),
        ("xdm_deprecated_addon_key_do_not_use", app.key),
        ("lic", "none"),
        ("cv", CONNECT_VERSION),
    ]
    relative += ("&" if "?" in relative else "?") + "&".join(f"{k}={quote(v, safe='')}" for k, v in extra)
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": state.site.client_key,
            "sub": viewer,
            "iat": now,
            "exp": now + IFRAME_TOKEN_LIFETIME,
            "qsh": hash_url("GET", relative),
            "context": {},
        },
        app.shared_secret,
        algorithm="HS256",
    )
    name = module.get("name", {})
    return Frame(
        app_key=app.key,
        module_key=module_key,
        title=str(name.get("value", module_key)) if isinstance(name, dict) else module_key,
        src=f"{app.base_url}{relative}&jwt={token}",
        app_origin=_origin(app.base_url),
        channel=channel,
        page_id=str(page.id) if page else "",
        space_key=space.key if space else "",
        space_id=str(space.id) if space else "",
        height=str(module.get("height", "") or ""),
        context=context_claim(space, page),
    )


def context_claim(space: Space | None, page: Content | None) -> dict[str, Any]:
    """The product context an iframe may read (``getContext``) and a context JWT carries."""
    confluence: dict[str, Any] = {}
    if page is not None:
        confluence["content"] = {"id": str(page.id), "type": "page", "version": str(page.version)}
    if space is not None:
        confluence["space"] = {"key": space.key, "id": str(space.id)}
    return {"confluence": confluence, "license": {"active": False}}


def context_token(
    state: EmulatorState, app: AppRecord, viewer: str, space: Space | None, page: Content | None
) -> str:
    """A ``context-qsh`` JWT as ``AP.context.getToken()`` returns it (the secret stays on the server)."""
    now = int(time.time())
    context = context_claim(space, page)
    context.pop("license")
    return jwt.encode(
        {
            "iss": state.site.client_key,
            "sub": viewer,
            "iat": now,
            "exp": now + CONTEXT_TOKEN_LIFETIME,
            "qsh": "context-qsh",
            "context": context,
        },
        app.shared_secret,
        algorithm="HS256",
    )
