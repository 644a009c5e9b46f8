"""The admin configuration page (an ``adminPages`` module)."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.connect.auth import require_jwt
from app.connect.lifecycle import ANY_METHOD

bp = Blueprint("admin", __name__)


@bp.route("/admin/freshness", methods=ANY_METHOD, provide_automatic_options=False)
@require_jwt()
def settings_page() -> str:
    """Render the admin page for the authenticated tenant."""
    return render_template("admin/freshness.html")
