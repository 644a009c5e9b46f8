"""The content-freshness product on the Connect framework: its pages, jobs and per-process caches.

``create_app`` hands these to the framework extension (``app/framework.py``); nothing in the
framework imports this module.
"""

from __future__ import annotations

from typing import Final

from flask import Flask

from app.jobs.queue import get_queue
from app.reports import privacy, tenant_events, webhook_tasks
from app.reports import tasks as report_tasks
from app.reports.jobs import job_figures
from app.views import admin, api, macro, tenant_client
from app.views.authorization import AdminCache

#: The iframe pages (their errors are HTML): the macro and the admin page.
IFRAME_PREFIXES: Final = ("/macros/", "/admin/")
BLUEPRINTS: Final = (macro.bp, admin.bp, api.bp)


def init_app(app: Flask) -> None:
    """Register the product's jobs (scans, the sweep, webhook updates, personal data reporting), its
    reactions to lifecycle events, and the views' caches."""
    report_tasks.init_app(app)
    webhook_tasks.init_app(app)
    tenant_events.init_app(app)
    privacy.init_app(app, get_queue(app))
    tenant_client.init_app(app)
    macro.init_app(app)
    admin.init_app(app)
    app.extensions["admin_cache"] = AdminCache()
    app.extensions.setdefault("metrics_figures", []).append(job_figures)
