"""The front door of every REST call: inject faults, authenticate, and count the call afterwards.

Registered on the REST blueprints only, so host pages, install keys and control endpoints are never
faulted or counted.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from emulator.auth import Caller, authenticate
from emulator.state import current


def _guard() -> None:
    state = current()
    state.faults.apply()  # like the real gateway, rate limiting answers before authentication
    g.caller = authenticate(state, request)


def _count(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    current().stats.record(f"{request.method} {rule}", response.status_code)
    return response


def protect(bp: Blueprint) -> None:
    """Make every route of ``bp`` a faultable, authenticated, counted REST route."""
    bp.before_request(_guard)
    bp.after_request(_count)


def caller() -> Caller:
    """The authenticated caller of the current REST request."""
    found: Caller = g.caller
    return found
