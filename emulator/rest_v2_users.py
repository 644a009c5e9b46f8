"""``POST /wiki/api/v2/users-bulk``: user details for up to 250 account ids (spec: ``BulkUsersRequest``).

Found accounts come back in the order asked, once each. An id the site never knew is simply absent (the
spec: "results may be empty if no account IDs were found"); a deleted account is returned as Confluence
shows it everywhere, "Former user" with ``accountStatus`` closed and no email.
"""

from __future__ import annotations

from typing import Any, Final

from flask import Blueprint, Response, jsonify, request

from emulator.accounts import find_account
from emulator.errors import ApiError
from emulator.gateway import protect
from emulator.people import FORMER_USER, User
from emulator.state import current

bp = Blueprint("rest_v2_users", __name__, url_prefix="/wiki/api/v2")
protect(bp)

MAX_ACCOUNT_IDS: Final = 250


def _invalid(detail: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", "Invalid request", detail)


def user_v2_json(user: User) -> dict[str, Any]:
    """A v2 ``User``."""
    deleted = not user.active
    name = FORMER_USER if deleted else user.display_name
    return {
        "displayName": name,
        "timeZone": None if deleted or user.account_type == "app" else "Europe/Berlin",
        "personalSpaceId": None,
        "isExternalCollaborator": False,
        "accountStatus": user.status,
        "accountId": user.account_id,
        "email": "" if deleted else user.email,
        "accountType": user.account_type,
        "publicName": name,
        "profilePicture": {"path": "/wiki/aa-avatar/default.png", "isDefault": True},
    }


def _account_ids(body: object) -> list[str]:
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object with 'accountIds'")
    ids = body.get("accountIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise _invalid("'accountIds' must be an array of strings")
    if not 1 <= len(ids) <= MAX_ACCOUNT_IDS:
        raise _invalid(f"'accountIds' must hold 1 to {MAX_ACCOUNT_IDS} account ids")
    return list(dict.fromkeys(ids))


@bp.post("/users-bulk")
def users_bulk() -> Response:
    """Look up to 250 accounts; unknown ids are absent, deleted ones are "Former user"."""
    state = current()
    ids = _account_ids(request.get_json(silent=True))
    found = [user for user in (find_account(state, i) for i in ids) if user is not None]
    response = jsonify({"results": [user_v2_json(u) for u in found], "_links": {"base": state.site.base_url}})
    response.headers["Link"] = f'<{state.site.base_url}>; rel="base"'
    return response
