"""A Python backend for Atlassian Connect apps in Confluence Cloud, and the content-freshness app.

``create_app()`` is the factory used by ``flask --app app`` and ``gunicorn 'app:create_app()'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app import config as app_config
from app import freshness
from app.framework import Connect

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: The Connect framework, configured for this product (see app/framework.py).
connect = Connect(iframe_prefixes=freshness.IFRAME_PREFIXES)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build a configured app: defaults, then ``APP_*`` variables, then ``overrides`` (for tests)."""
    app = Flask(__name__, static_folder=str(_STATIC), static_url_path="/static")
    app.config.from_mapping(app_config.DEFAULTS)
    app.config.update(app_config.from_environment())
    app.config.update(overrides or {})
    app_config.validate(app.config)
    connect.init_app(app, blueprints=freshness.BLUEPRINTS, setup=freshness.init_app)
    return app
