"""The emulator's own control API under ``/_emulator``: apps and their lifecycle, faults, stats, site facts.

Not part of Confluence; never faulted, counted or authenticated (the emulator only listens on loopback).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator import lifecycle
from emulator.accounts import find_account
from emulator.faults import parse_settings
from emulator.lifecycle import LifecycleError
from emulator.people import DELETED_ACCOUNT_ID, GROUPS, UNKNOWN_ACCOUNT_ID, app_account_id
from emulator.restrictions import ReadRestriction
from emulator.state import EmulatorState, current

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
            "deletedAccountId": DELETED_ACCOUNT_ID,
            "unknownAccountId": UNKNOWN_ACCOUNT_ID,
            "groups": [{"name": g.name, "id": g.id} for g in GROUPS],
            "appAccountIds": {a.key: app_account_id(a.key) for a in state.apps.all()},
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


def _restriction_json(state: EmulatorState, content_id: int) -> dict[str, Any]:
    item = state.site.content[content_id]
    space = state.site.space(item.space_id)
    restriction = state.access.get(content_id) or ReadRestriction()
    return {
        "id": str(content_id),
        "type": item.kind,
        "spaceKey": space.key if space else "",
        "title": item.title,
        "read": restriction.to_json(),
    }


def _parse_restriction(state: EmulatorState) -> ReadRestriction:
    """``{"users": [accountId], "groups": [name]}``; an empty body or ``{}`` means no restriction."""
    if not request.get_data():
        return ReadRestriction()
    data = _json_body()
    unknown = set(data) - {"users", "groups"}
    if unknown:
        raise LifecycleError(f"unknown fields: {', '.join(sorted(unknown))} (use users, groups)", 400)
    users, groups = data.get("users", []), data.get("groups", [])
    for name, values in (("users", users), ("groups", groups)):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise LifecycleError(f"'{name}' must be an array of strings", 400)
    for account_id in users:
        account = find_account(state, account_id)
        if account is None or not account.active:
            raise LifecycleError(f"no active account {account_id!r} on this site", 400)
    known_groups = {g.name for g in GROUPS}
    for group in groups:
        if group not in known_groups:
            raise LifecycleError(f"no group {group!r} (groups: {', '.join(sorted(known_groups))})", 400)
    return ReadRestriction(users=tuple(dict.fromkeys(users)), groups=tuple(dict.fromkeys(groups)))


@bp.route("/pages/<int:content_id>/restrictions", methods=["GET", "POST"])
def content_restrictions(content_id: int) -> tuple[Response, int]:
    """Read or replace the read restriction of a page or blog post (POST ``{"users", "groups"}``)."""
    state = current()
    if content_id not in state.site.content:
        raise LifecycleError(f"no page or blog post {content_id}", 404)
    if request.method == "POST":
        state.access.set(content_id, _parse_restriction(state))
        state.list_cache.clear()
    return jsonify(_restriction_json(state, content_id)), 200


@bp.get("/restrictions")
def all_restrictions() -> Response:
    """Every page and blog post that has a read restriction of its own (inherited ones are not listed)."""
    state = current()
    return jsonify({"restrictions": [_restriction_json(state, i) for i in sorted(state.access.all())]})
