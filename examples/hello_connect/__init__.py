"""Hello, Connect: a page-count macro on the Connect framework alone (``app.framework``), no product code.

Run it beside the emulator like the main app (``APP_*`` variables), e.g.
``APP_KEY=com.example.hello-connect flask --app examples.hello_connect run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, render_template_string, request

from app import config
from app.confluence import ClientSettings, client_as_app
from app.connect.auth import require_jwt
from app.framework import Connect
from app.tenants.credentials import Credentials

connect = Connect(
    descriptor_template=Path(__file__).with_name("atlassian-connect.json"), iframe_prefixes=["/macros/"]
)
pages = Blueprint("hello", __name__)
PAGE = """<!doctype html><script src="{{ config.ALL_JS_URL }}"></script>
<p>Space {{ space }} has <strong data-testid="count">{{ count }}</strong> pages.</p>"""


@pages.get("/macros/page-count")
@require_jwt()
def page_count() -> str:
    """Count the space's pages through the REST v2 client, as the app (one signed call per 250)."""
    space = request.args.get("spaceKey", "")
    with client_as_app(
        Credentials.of(g.tenant), ClientSettings.from_config(current_app.config)
    ) as confluence:
        count = sum(1 for _ in confluence.iter_space_pages(confluence.resolve_space_id(space)))
    return render_template_string(PAGE, space=space, count=count)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping({**config.DEFAULTS, "KEY": "com.example.hello-connect", "NAME": "Hello Connect"})
    app.config.update({**config.from_environment(), **(overrides or {})})
    config.validate(app.config)
    connect.init_app(app, blueprints=[pages])
    return app
