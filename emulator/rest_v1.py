"""The few v1 routes an app needs from this site: users with ``expand=operations`` (admin checks)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.gateway import caller, protect
from emulator.site import User
from emulator.state import current

bp = Blueprint("rest_v1", __name__, url_prefix="/wiki/rest/api")
protect(bp)


def _operations(user: User) -> list[dict[str, str]]:
    """Application-level permissions; only admins may ``administer`` (what admin pages must check)."""
    ops = [{"operation": "use", "targetType": "application"}, {"operation": "create", "targetType": "space"}]
    if user.is_admin:
        ops.insert(0, {"operation": "administer", "targetType": "application"})
    return ops


def user_json(user: User, expand: set[str]) -> dict[str, Any]:
    """A v1 ``User``; ``operations`` only with ``expand=operations`` as on the real site."""
    base = current().site.base_url
    data: dict[str, Any] = {
        "type": "known",
        "accountId": user.account_id,
        "accountType": "atlassian",
        "email": user.email,
        "publicName": user.display_name,
        "displayName": user.display_name,
        "profilePicture": {
            "path": "/wiki/aa-avatar/default.png",
            "width": 48,
            "height": 48,
            "isDefault": True,
        },
        "isExternalCollaborator": False,
        "_expandable": {} if "operations" in expand else {"operations": ""},
        "_links": {
            "self": f"{base}/rest/api/user?accountId={user.account_id}",
            "base": base,
            "context": "/wiki",
        },
    }
    if "operations" in expand:
        data["operations"] = _operations(user)
    return data


def _v1_error(status: int, message: str) -> tuple[Response, int]:
    data = {"authorized": True, "valid": False, "errors": [], "successful": False}
    return jsonify({"statusCode": status, "message": message, "data": data}), status


def _expand() -> set[str]:
    return {part.strip() for part in request.args.get("expand", "").split(",") if part.strip()}


@bp.get("/user")
def get_user() -> tuple[Response, int]:
    """``GET /rest/api/user?accountId=...``: 404 for an account the site does not know."""
    account_id = request.args.get("accountId", "")
    if not account_id:
        return _v1_error(400, "accountId is required")
    user = current().site.user(account_id)
    if user is None:
        return _v1_error(404, f"No user found with accountId: {account_id}")
    return jsonify(user_json(user, _expand())), 200


@bp.get("/user/current")
def current_user() -> tuple[Response, int]:
    """``GET /rest/api/user/current``: the impersonated user for a bearer token, else the app's own user."""
    who = caller()
    user = current().site.user(who.account_id) if who.account_id else None
    if user is not None:
        return jsonify(user_json(user, _expand())), 200
    return jsonify(
        {
            "type": "known",
            "accountId": f"app:{who.app_key}",
            "accountType": "app",
            "displayName": who.app_key,
            "publicName": who.app_key,
            "operations": [],
        }
    ), 200
