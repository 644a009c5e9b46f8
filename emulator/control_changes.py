"""Control routes that change the site: content, webhook delivery, accounts, personal data, site moves.

Like the rest of ``/_emulator``: not Confluence, never faulted, counted or authenticated. Bad input is 400
``{"error": "..."}`` and changes nothing; an unknown id is 404; a change the content's state does not allow
(e.g. purging a current page) is 409.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator import changes, lifecycle, shapes
from emulator.changes import Change, ChangeError, check_fields, parse_time
from emulator.lifecycle import LifecycleError
from emulator.people import closed
from emulator.site import iso
from emulator.state import EmulatorState, current

bp = Blueprint("control_changes", __name__, url_prefix="/_emulator")

MAX_FLUSH_SECONDS = 60.0
MAX_FAULT_CALLS = 1000
MAX_RETRY_AFTER = 3600


@bp.errorhandler(ChangeError)
@bp.errorhandler(LifecycleError)
def _error(exc: ChangeError | LifecycleError) -> tuple[Response, int]:
    return jsonify({"error": str(exc)}), exc.status


def _body() -> dict[str, Any]:
    """The JSON object body; an empty body is ``{}``."""
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ChangeError("expected a JSON object body")
    return data


def _answer(state: EmulatorState, change: Change, status: int = 200) -> tuple[Response, int]:
    item = change.item
    view = (
        shapes.page_json(state.site, item, single=True)
        if item.kind == "page"
        else shapes.blogpost_json(state.site, item)
    )
    return jsonify({"event": change.event, "content": view}), status


# -- content ---------------------------------------------------------------------------------------


@bp.post("/pages")
def create_page() -> tuple[Response, int]:
    """``{"spaceKey", "title", "parentId"?, "authorId"?, "createdAt"?}`` → 201 and ``page_created``."""
    state = current()
    return _answer(state, changes.create(state, "page", _body()), 201)


@bp.post("/blogposts")
def create_blogpost() -> tuple[Response, int]:
    """``{"spaceKey", "title", "authorId"?, "createdAt"?}`` → 201 and ``blog_created``."""
    state = current()
    return _answer(state, changes.create(state, "blogpost", _body()), 201)


@bp.post("/pages/<int:content_id>/<action>")
@bp.post("/blogposts/<int:content_id>/<action>")
def change_content(content_id: int, action: str) -> tuple[Response, int]:
    """Change any content id: update, trash, restore, remove, move, archive or unarchive."""
    state = current()
    data = _body()
    if action == "update":
        return _answer(state, changes.update(state, content_id, data))
    if action in changes.PAST:
        return _answer(state, changes.set_status(state, content_id, action, data))
    if action == "remove":
        return _answer(state, changes.remove(state, content_id, data))
    if action == "move":
        return _answer(state, changes.move(state, content_id, data))
    raise ChangeError(f"unknown action {action!r}", 404)


# -- webhook delivery ------------------------------------------------------------------------------


def _webhook_summary(state: EmulatorState) -> dict[str, Any]:
    sender = state.webhooks
    return {"paused": sender.paused, "pending": sender.pending(), "faults": sender.faults.to_json()}


@bp.get("/webhooks")
def webhook_log() -> Response:
    """The delivery log (oldest first) with the queue's state."""
    state = current()
    return jsonify({**_webhook_summary(state), "deliveries": state.webhooks.log()})


@bp.post("/webhooks/<action>")
def webhook_control(action: str) -> tuple[Response, int]:
    """``pause``, ``resume``, ``flush`` (``{"timeout": s}``), ``faults`` or ``clear``."""
    state = current()
    sender = state.webhooks
    data = _body()
    if action == "pause":
        sender.pause()
        return jsonify(_webhook_summary(state)), 200
    if action == "resume":
        order = sender.resume()
        return jsonify({**_webhook_summary(state), "released": order}), 200
    if action == "flush":
        timeout = data.get("timeout", 10)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= MAX_FLUSH_SECONDS
        ):
            raise ChangeError(f"'timeout' must be a number of seconds in (0, {MAX_FLUSH_SECONDS:g}]")
        if sender.paused:
            raise ChangeError("deliveries are paused: resume them first", 409)
        left = sender.flush(float(timeout))
        if left:
            return jsonify({"error": f"{left} deliveries still pending", "pending": left}), 504
        return jsonify(_webhook_summary(state)), 200
    if action == "faults":
        return jsonify(_set_webhook_faults(state, data)), 200
    if action == "clear":
        sender.clear_log()
        return jsonify(_webhook_summary(state)), 200
    raise ChangeError(f"unknown action {action!r}", 404)


def _set_webhook_faults(state: EmulatorState, data: dict[str, Any]) -> dict[str, Any]:
    """Merge ``{"duplicate": bool, "shuffle": bool, "seed": int}`` into the delivery faults."""
    unknown = set(data) - {"duplicate", "shuffle", "seed"}
    if unknown:
        raise ChangeError(f"unknown fields: {', '.join(sorted(unknown))} (use duplicate, shuffle, seed)")
    merged = {**state.webhooks.faults.to_json(), **data}
    if not isinstance(merged["duplicate"], bool) or not isinstance(merged["shuffle"], bool):
        raise ChangeError("'duplicate' and 'shuffle' must be booleans")
    if isinstance(merged["seed"], bool) or not isinstance(merged["seed"], int):
        raise ChangeError("'seed' must be an integer")
    state.webhooks.set_faults(merged["duplicate"], merged["shuffle"], merged["seed"])
    return state.webhooks.faults.to_json()


# -- accounts and personal data --------------------------------------------------------------------


@bp.post("/accounts/<account_id>/<action>")
def account_action(account_id: str, action: str) -> tuple[Response, int]:
    """``close`` (``{"at"?}``) or ``update`` (``{"at"?, "displayName"?, "email"?}``) a site user."""
    state = current()
    data = _body()
    allowed = {"at"} | ({"displayName", "email"} if action == "update" else set())
    if action not in ("close", "update"):
        raise ChangeError(f"unknown action {action!r}", 404)
    check_fields(data, allowed)
    at = parse_time(data["at"], "at") if "at" in data else None
    for name in ("displayName", "email"):
        if name in data and (
            not isinstance(data[name], str) or not data[name].strip() or len(data[name]) > 255
        ):
            raise ChangeError(f"'{name}' must be a non-empty string")
    with state.lock:
        user = state.site.user(account_id)
        if user is None:
            raise ChangeError(f"no user {account_id!r} on this site (app accounts cannot be changed)", 404)
        if not user.active:
            raise ChangeError(f"account {account_id} is already closed", 409)
        when = at if at is not None else time.time()
        if action == "close":
            state.site.replace_user(closed(user))
        else:
            name, email = data.get("displayName", user.display_name), data.get("email", user.email)
            state.site.replace_user(replace(user, display_name=name, email=email))
        change = state.personal_data.mark(account_id, "closed" if action == "close" else "updated", when)
        state.list_cache.clear()
        state.access.invalidate()
    return jsonify({"accountId": account_id, "status": change.status, "since": iso(change.since)}), 200


@bp.get("/personal-data/calls")
def personal_data_calls() -> Response:
    """Every call to the reporting API: ``{"calls": [{"at", "path", "appKey", "accounts", "status"}]}``."""
    return jsonify({"calls": current().personal_data.calls()})


@bp.post("/personal-data/calls/clear")
def clear_personal_data_calls() -> Response:
    """Forget the calls made so far."""
    current().personal_data.clear_calls()
    return jsonify({"calls": []})


@bp.route("/personal-data/faults", methods=["GET", "POST"])
def personal_data_faults() -> tuple[Response, int]:
    """``{"count": N, "retryAfter": S}``: the next N reporting calls answer 429 with ``Retry-After: S``."""
    data = current().personal_data
    if request.method == "GET":
        return jsonify(data.faults()), 200
    body = _body()
    unknown = set(body) - {"count", "retryAfter"}
    if unknown or "count" not in body:
        raise ChangeError('expected {"count": N, "retryAfter": seconds}')
    count, retry_after = body["count"], body.get("retryAfter", 1)
    for name, value, limit in (
        ("count", count, MAX_FAULT_CALLS),
        ("retryAfter", retry_after, MAX_RETRY_AFTER),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            raise ChangeError(f"'{name}' must be an integer from 0 to {limit}")
    return jsonify(data.set_faults(count, retry_after)), 200


# -- site moves ------------------------------------------------------------------------------------


@bp.post("/site/migrate")
def migrate_site() -> tuple[Response, int]:
    """A new clientKey for the same baseUrl; every app is installed again as a new installation."""
    data = _body()
    unknown = set(data) - {"clientKey"}
    if unknown:
        raise ChangeError(f"unknown fields: {', '.join(sorted(unknown))} (use clientKey)")
    client_key = data.get("clientKey")
    if client_key is not None and not isinstance(client_key, str):
        raise ChangeError("'clientKey' must be a string")
    return jsonify(lifecycle.migrate(current(), client_key)), 200


@bp.post("/site/rename")
def rename_site() -> tuple[Response, int]:
    """``{"baseUrl": ...}``: the same site under another loopback name; apps get ``installed`` again."""
    data = _body()
    if set(data) != {"baseUrl"}:
        raise ChangeError('expected {"baseUrl": "http://localhost:PORT/wiki"}')
    return jsonify(lifecycle.rename(current(), data["baseUrl"])), 200
