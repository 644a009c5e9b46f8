"""``POST /app/report-accounts/``: Atlassian's personal data reporting API (see ``emulator.privacy``).

Served on the site's host at ``/app/report-accounts/`` and, for clients that resolve paths against the
Confluence baseUrl, at ``/wiki/app/report-accounts/``; authenticated like every REST call (an installed,
enabled app's JWT with a qsh, which is ``POST /app/report-accounts`` either way, or a bearer token).
Injected 429s (``POST /_emulator/personal-data/faults``) answer before authentication, like a gateway.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.auth import authenticate
from emulator.errors import ApiError, error_response
from emulator.privacy import CYCLE_PERIOD_SECONDS, MAX_ACCOUNTS
from emulator.site import iso
from emulator.state import current

bp = Blueprint("rest_privacy", __name__)
ROUTE = "POST /app/report-accounts/"


def _invalid(detail: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", "Bad request", detail)


def parse_report(body: object) -> list[tuple[str, float]]:
    """``{"accounts": [{"accountId": str, "updatedAt": ISO 8601}]}`` with 1 to 90 entries, else 400."""
    if not isinstance(body, dict) or set(body) != {"accounts"}:
        raise _invalid("The body must be a JSON object with one field, 'accounts'")
    accounts = body["accounts"]
    if not isinstance(accounts, list) or not accounts:
        raise _invalid("'accounts' must be a non-empty array")
    if len(accounts) > MAX_ACCOUNTS:
        raise _invalid(f"At most {MAX_ACCOUNTS} accounts can be reported in one request, got {len(accounts)}")
    parsed: list[tuple[str, float]] = []
    for entry in accounts:
        if not isinstance(entry, dict) or set(entry) != {"accountId", "updatedAt"}:
            raise _invalid("Each account must be an object with 'accountId' and 'updatedAt'")
        account_id, updated_at = entry["accountId"], entry["updatedAt"]
        if not isinstance(account_id, str) or not account_id or len(account_id) > 128:
            raise _invalid("'accountId' must be a non-empty string")
        try:
            when = datetime.fromisoformat(updated_at) if isinstance(updated_at, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise _invalid(f"'updatedAt' must be an ISO 8601 date-time with a zone, got {updated_at!r}")
        parsed.append((account_id, when.timestamp()))
    return parsed


@bp.post("/app/report-accounts/", strict_slashes=False)
@bp.post("/wiki/app/report-accounts/", strict_slashes=False)
def report_accounts() -> Response:
    """Report accounts the app stores personal data for; answer which ones it must erase or refresh."""
    state = current()
    data = state.personal_data
    call: dict[str, Any] = {"at": iso(time.time()), "path": request.path, "appKey": None}
    body = request.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("accounts"), list):
        call["accounts"] = body["accounts"]
    try:
        retry_after = data.take_fault()
        if retry_after is not None:  # a rate limit answers before authentication, like the gateway
            raise ApiError(
                429,
                "TOO_MANY_REQUESTS",
                "Too Many Requests",
                "Rate limited",
                {"Retry-After": str(retry_after)},
            )
        call["appKey"] = authenticate(state, request).app_key
        answer = data.answer(parse_report(body))
    except ApiError as exc:
        call.update(status=exc.status, error=exc.detail)
        data.record(call)
        state.stats.record(ROUTE, exc.status)
        return error_response(exc)
    response = jsonify({"accounts": answer}) if answer else Response(status=204)
    response.headers["Cycle-Period"] = str(CYCLE_PERIOD_SECONDS)
    call.update(status=response.status_code, answer=answer)
    data.record(call)
    state.stats.record(ROUTE, response.status_code)
    return response
