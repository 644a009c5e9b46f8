"""The content-freshness dynamic content macro, rendered in an iframe inside a Confluence page."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.connect.auth import require_jwt
from app.connect.lifecycle import ANY_METHOD

bp = Blueprint("macro", __name__)


@bp.route("/macros/freshness", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt()
def freshness() -> str:
    """Render the macro for the authenticated tenant."""
    return render_template("macro/freshness.html")
