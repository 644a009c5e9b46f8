"""The emulator's own control API under ``/_emulator``: apps and their lifecycle, faults, stats, site facts.

Not part of Confluence; never faulted, counted or authenticated (the emulator only listens on loopback).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator import lifecycle
from emulator.faults import parse_settings
from emulator.lifecycle import LifecycleError
from emulator.state import current

bp = Blueprint("control", __name__, url_prefix="/_emulator")


@bp.errorhandler(LifecycleError)
def _lifecycle_error(exc: LifecycleError) -> tuple[Response, int]:
    return jsonify({"error": str(exc)}), exc.status


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise LifecycleError("expected a JSON object body", 400)
    return data


@bp.get("/site")
def site() -> Response:
    """Site identity, users and spaces (what a test needs to address this tenant)."""
    state = current()
    return jsonify(
        {
            **state.site.summary(),
            "installKeysUrl": f"{state.origin}/install-keys",
            "allJsUrl": f"{state.origin}/atlassian-connect/all.js",
            "oauthTokenUrl": f"{state.origin}/oauth2/token",
            "kid": state.signing_key.kid,
        }
    )


@bp.get("/apps")
def list_apps() -> Response:
    """Installed apps (no secrets)."""
    return jsonify({"apps": [a.summary() for a in current().apps.all()]})


@bp.post("/apps")
def install_app() -> tuple[Response, int]:
    """Install from ``{"descriptorUrl": ...}``; 2xx only once the app accepted ``installed``."""
    url = _json_body().get("descriptorUrl")
    if not isinstance(url, str) or not url:
        raise LifecycleError("descriptorUrl is required", 400)
    record = lifecycle.install(current(), url)
    return jsonify(record.summary()), 201


@bp.post("/apps/<key>/<action>")
def app_action(key: str, action: str) -> tuple[Response, int]:
    """``uninstall``, ``enable``, ``disable`` or ``reinstall`` an installed app."""
    state = current()
    if action == "uninstall":
        lifecycle.uninstall(state, key)
        return jsonify({"key": key, "uninstalled": True}), 200
    if action in ("enable", "disable"):
        return jsonify(lifecycle.set_enabled(state, key, action == "enable").summary()), 200
    if action == "reinstall":
        return jsonify(lifecycle.reinstall(state, key).summary()), 200
    raise LifecycleError(f"unknown action {action!r}", 404)


@bp.route("/faults", methods=["GET", "POST"])
def faults() -> tuple[Response, int]:
    """Read, or update with JSON: ``fault429Rate``, ``retryAfter``, ``fault5xxRate``, ``latencyMs``."""
    state = current()
    if request.method == "POST":
        try:
            state.faults.update(parse_settings(_json_body(), state.faults.settings))
        except ValueError as exc:
            raise LifecycleError(str(exc), 400) from exc
    return jsonify(state.faults.settings.to_json()), 200


@bp.get("/stats")
def stats() -> Response:
    """REST call counts per route template and status."""
    return jsonify(current().stats.snapshot())


@bp.post("/stats/reset")
def reset_stats() -> Response:
    """Zero the counters."""
    current().stats.reset()
    return jsonify(current().stats.snapshot())


@bp.post("/pages/<int:page_id>/macro-params")
def set_macro_params(page_id: int) -> tuple[Response, int]:
    """Store macro parameter values on a page: ``{"appKey", "moduleKey", "params": {ident: value}}``."""
    data = _json_body()
    params = data.get("params")
    if not isinstance(params, dict) or current().site.page(page_id) is None:
        raise LifecycleError("need an existing page and a 'params' object", 400)
    key = (page_id, str(data.get("appKey", "")), str(data.get("moduleKey", "")))
    current().site.macro_params[key] = {str(k): str(v) for k, v in params.items()}
    return jsonify({"pageId": str(page_id), "params": current().site.macro_params[key]}), 200
