"""The few v1 routes an app needs from this site: users with ``expand=operations`` (admin checks) and
the read restrictions of a page or blog post as its reader sees them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.accounts import caller_principal, caller_user, find_account
from emulator.gateway import caller, protect
from emulator.people import FORMER_USER, GROUPS, User
from emulator.restrictions import ReadRestriction
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
    """A v1 ``User``; ``operations`` only with ``expand=operations`` as on the real site.

    A deleted account is "Former user" with no email; an app's bot user has ``accountType`` app.
    """
    base = current().site.base_url
    name = user.display_name if user.active else FORMER_USER
    data: dict[str, Any] = {
        "type": "known",
        "accountId": user.account_id,
        "accountType": user.account_type,
        "email": user.email if user.active else "",
        "publicName": name,
        "displayName": name,
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
        data["operations"] = _operations(user) if user.active and user.account_type != "app" else []
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
    user = find_account(current(), account_id)
    if user is None:
        return _v1_error(404, f"No user found with accountId: {account_id}")
    return jsonify(user_json(user, _expand())), 200


@bp.get("/user/current")
def current_user() -> tuple[Response, int]:
    """``GET /rest/api/user/current``: the impersonated user for a bearer token, else the app's bot user."""
    return jsonify(user_json(caller_user(current(), caller()), _expand())), 200


def _group_json(name: str) -> dict[str, Any]:
    group = next((g for g in GROUPS if g.name == name), None)
    base = current().site.base_url
    return {
        "type": "group",
        "name": name,
        "id": group.id if group else "",
        "_links": {"self": f"{base}/rest/api/group/by-id?id={group.id if group else ''}"},
    }


def restriction_json(content_id: int, operation: str, restriction: ReadRestriction | None) -> dict[str, Any]:
    """A v1 ``ContentRestriction`` with ``restrictions.user`` and ``.group`` expanded (their default)."""
    state = current()
    base = state.site.base_url
    users = [u for u in (find_account(state, i) for i in (restriction.users if restriction else ())) if u]
    groups = list(restriction.groups) if restriction else []
    return {
        "operation": operation,
        "restrictions": {
            "user": {
                "results": [user_json(u, set()) for u in users],
                "start": 0,
                "limit": 100,
                "size": len(users),
            },
            "group": {
                "results": [_group_json(g) for g in groups],
                "start": 0,
                "limit": 100,
                "size": len(groups),
            },
        },
        "_expandable": {"content": f"/rest/api/content/{content_id}"},
        "_links": {
            "self": f"{base}/rest/api/content/{content_id}/restriction/byOperation/{operation}",
            "base": base,
            "context": "/wiki",
        },
    }


@bp.get("/content/<content_id>/restriction/byOperation/<operation>")
def content_restriction(content_id: str, operation: str) -> tuple[Response, int]:
    """The content's own ``read`` restriction (``update`` restrictions are not modelled: always empty).

    Inherited restrictions are not listed, as on the real endpoint; content the caller cannot read is 404.
    """
    if operation not in ("read", "update"):
        return _v1_error(400, f"operationKey must be read or update, not {operation!r}")
    state = current()
    item = state.site.content.get(int(content_id)) if content_id.isdigit() else None
    if (
        item is None
        or item.status not in ("current", "archived")
        or not state.access.can_read(caller_principal(state, caller()), item)
    ):
        return _v1_error(404, f"No content with id {content_id}")
    restriction = state.access.get(item.id) if operation == "read" else None
    return jsonify(restriction_json(item.id, operation, restriction)), 200
