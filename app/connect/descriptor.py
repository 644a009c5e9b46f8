"""The app descriptor, served at ``/atlassian-connect.json`` from the top-level template."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Final

from flask import Blueprint, Flask, Response, current_app
from flask.typing import ResponseReturnValue

from app.connect.auth import authenticated_by

#: The descriptor template kept at the top of the repository.
TEMPLATE_PATH: Final = Path(__file__).resolve().parents[2] / "atlassian-connect.json"

bp = Blueprint("descriptor", __name__)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read the descriptor template."""
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template


def build_descriptor(template: dict[str, Any], *, base_url: str, key: str, name: str) -> dict[str, Any]:
    """Return the descriptor with this deployment's ``baseUrl``, key and name filled in."""
    descriptor = copy.deepcopy(template)
    descriptor["baseUrl"] = base_url
    descriptor["key"] = key
    descriptor["name"] = name
    return descriptor


def module_urls(descriptor: dict[str, Any]) -> list[str]:
    """Return every URL template the descriptor declares (lifecycle and modules)."""
    urls = list(descriptor.get("lifecycle", {}).values())
    for modules in descriptor.get("modules", {}).values():
        for module in modules if isinstance(modules, list) else [modules]:
            if "url" in module:
                urls.append(module["url"])
            for mode in module.get("renderModes", {}).values():
                urls.append(mode["url"])
    return urls


def init_app(app: Flask, template: Path = TEMPLATE_PATH) -> None:
    """Build this deployment's descriptor once from ``template`` and ``APP_BASE_URL``/``_KEY``/``_NAME``."""
    config = app.config
    descriptor = build_descriptor(
        load_template(template), base_url=config["BASE_URL"], key=config["KEY"], name=config["NAME"]
    )
    app.extensions["descriptor"] = descriptor
    app.extensions["descriptor_json"] = json.dumps(descriptor, indent=2, ensure_ascii=False).encode("utf-8")


def current_descriptor() -> dict[str, Any]:
    """This deployment's descriptor (a copy: callers may change it)."""
    return copy.deepcopy(current_app.extensions["descriptor"])


@bp.get("/atlassian-connect.json")
@authenticated_by("public")  # Confluence fetches it without credentials
def serve() -> ResponseReturnValue:
    """Serve the descriptor (unauthenticated, as Confluence fetches it)."""
    body: bytes = current_app.extensions["descriptor_json"]
    return Response(body, mimetype="application/json")
