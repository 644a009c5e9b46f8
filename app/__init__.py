"""A Python backend for Atlassian Connect apps in Confluence Cloud, and the content-freshness app.

``create_app()`` is the factory used by ``flask --app app`` and ``gunicorn 'app:create_app()'``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app import config as app_config
from app import db, error_pages, http_headers, proxy, secrets_at_rest
from app.commands import register_commands
from app.connect import descriptor, lifecycle, webhooks
from app.connect.auth import enforce_authentication
from app.connect.install_keys import InstallKeyCache
from app.jobs import queue as jobs_queue
from app.reports import privacy, tenant_events, webhook_tasks
from app.reports import tasks as report_tasks
from app.tenants import retention
from app.views import admin, api, macro, tenant_client
from app.views.authorization import AdminCache

_STATIC = Path(__file__).resolve().parent.parent / "static"


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build a configured app: defaults, then ``APP_*`` variables, then ``overrides`` (for tests)."""
    app = Flask(__name__, static_folder=str(_STATIC), static_url_path="/static")
    app.config.from_mapping(app_config.DEFAULTS)
    app.config["CLOCK"] = time.time
    app.config.update(app_config.from_environment())
    app.config.update(overrides or {})
    app_config.validate(app.config)

    secrets_at_rest.configure(app.config["SECRETS_KEYS_LIST"])
    db.init_app(app)
    app.extensions["install_keys"] = InstallKeyCache(
        app.config["INSTALL_KEYS_URL"], timeout=app.config["INSTALL_KEYS_TIMEOUT"]
    )
    descriptor.init_app(app)
    app.extensions["admin_cache"] = AdminCache()
    jobs_queue.init_app(app)
    report_tasks.init_app(app)
    webhook_tasks.init_app(app)
    tenant_events.init_app(app)
    retention.init_app(app, jobs_queue.get_queue(app))
    privacy.init_app(app, jobs_queue.get_queue(app))
    tenant_client.init_app(app)

    for blueprint in (descriptor.bp, lifecycle.bp, webhooks.bp, macro.bp, admin.bp, api.bp):
        app.register_blueprint(blueprint)
    proxy.init_app(app)
    http_headers.init_app(app)
    error_pages.init_app(app)
    register_commands(app)
    enforce_authentication(app)
    return app
