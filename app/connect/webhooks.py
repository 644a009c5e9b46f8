"""Connect webhooks: one verified route for every event the descriptor declares.

Confluence POSTs ``<app baseUrl>/webhooks/<event>?lic=…`` with an HS256 JWT signed with the tenant's
shared secret and a ``qsh`` over that exact request
(https://developer.atlassian.com/cloud/confluence/modules/webhook/,
https://developer.atlassian.com/cloud/confluence/understanding-jwt/). The route takes the route-typed
policy of every URL Confluence signs: ``@require_jwt()``, never ``context-qsh``. It also refuses a
token issued more than :data:`MAX_TOKEN_AGE_SECONDS` ago, so a captured delivery cannot be replayed
for the rest of a long ``exp``.

The framework knows nothing of what an event means: the product registers handlers with
:func:`register_handler`. A handler must be quick (hand the work to the job queue) and raise a
:class:`~app.errors.BadRequestError` for a payload it cannot read, before it changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from flask import Blueprint, Flask, current_app, g, request

from app.connect.auth import ANY_METHOD, now_seconds, require_jwt
from app.connect.requests_info import json_body
from app.errors import InvalidPayloadError, InvalidTokenError, MethodNotAllowedError, NotFoundError

#: The content events the app subscribes to (Confluence has no blog ``moved``/``archived`` events).
PAGE_EVENTS: Final = (
    "page_created",
    "page_updated",
    "page_trashed",
    "page_restored",
    "page_removed",
    "page_moved",
    "page_archived",
    "page_unarchived",
)
BLOG_EVENTS: Final = ("blog_created", "blog_updated", "blog_trashed", "blog_restored", "blog_removed")
WEBHOOK_EVENTS: Final = PAGE_EVENTS + BLOG_EVENTS

#: A webhook token older than this is a replay, whatever its ``exp`` says (Connect tokens live minutes).
MAX_TOKEN_AGE_SECONDS: Final = 600
_MAX_BODY_BYTES: Final = 256 * 1024

#: ``handler(client_key, event, body)``; raises BadRequestError for a payload it cannot read.
WebhookHandler = Callable[[str, str, dict[str, Any]], None]

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def register_handler(app: Flask, handler: WebhookHandler) -> None:
    """Have ``handler`` called for every verified webhook (in registration order)."""
    handlers: list[WebhookHandler] = app.extensions.setdefault("webhook_handlers", [])
    handlers.append(handler)


def _check_token_age(claims: dict[str, Any]) -> None:
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or now_seconds() - issued > MAX_TOKEN_AGE_SECONDS:
        raise InvalidTokenError("the webhook token was issued too long ago")


@bp.route("/<event>", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt()
def receive(event: str) -> tuple[str, int]:
    """Verify, read and hand over one delivery; 204 at once (the work runs on the job queue)."""
    _check_token_age(g.claims)
    if request.method != "POST":
        raise MethodNotAllowedError("Webhooks must be POST requests.", allowed=("POST",))
    if event not in WEBHOOK_EVENTS:
        raise NotFoundError("This app does not subscribe to that event.")
    body: Any = json_body(request, max_bytes=_MAX_BODY_BYTES, what="The webhook payload")
    if not isinstance(body, dict):
        raise InvalidPayloadError("The webhook payload must be a JSON object.")
    handlers: list[WebhookHandler] = current_app.extensions.get("webhook_handlers", [])
    for handler in handlers:
        handler(g.tenant.client_key, event, body)
    return "", 204
