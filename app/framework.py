"""The Connect framework as one Flask extension: ``connect = Connect(...)`` then ``connect.init_app(app)``.

It wires every part a Connect app needs and that knows nothing of what the app does: the database and
sealed secrets, the descriptor and the lifecycle callbacks (signed install), inbound JWTs with the
default-deny route check, the tenant store, the install-keys cache, the job queue, proxies, security
headers, one error path, health and metrics endpoints with request logs, and the ``flask`` commands.
An app (the freshness product, or ``examples/hello_connect``) brings its descriptor template, says
which paths are iframe pages (their errors are HTML), and hands over its blueprints and its own
set-up::

    connect = Connect(descriptor_template=HERE / "atlassian-connect.json", iframe_prefixes=("/macros/",))

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config.update(...)             # validated by app.config.validate
        connect.init_app(app, blueprints=[my_pages], setup=my_product.init_app)
        return app

Nothing here imports the product (an import-linter contract in pyproject.toml enforces it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from flask import Blueprint, Flask

from app import db, error_pages, hot_path, http_headers, observability, proxy, secrets_at_rest, server_environ
from app.commands import register_commands
from app.connect import descriptor, lifecycle, tenant_cache, webhooks
from app.connect.auth import enforce_authentication
from app.connect.install_keys import InstallKeyCache
from app.cookie_sessions import LazyCookieSessions
from app.jobs import queue as jobs_queue
from app.tenants import retention
from app.tenants.store import StoreFactory, TenantStore

Setup = Callable[[Flask], None]


class Connect:
    """One instance per code base; ``init_app`` may be called for any number of apps (tests do)."""

    def __init__(
        self,
        *,
        descriptor_template: Path = descriptor.TEMPLATE_PATH,
        iframe_prefixes: Sequence[str] = (),
        tenant_store: StoreFactory = TenantStore,
    ) -> None:
        self.descriptor_template = descriptor_template
        #: Paths whose GET/HEAD answers are iframe pages: their errors are short HTML pages, not JSON.
        self.iframe_prefixes = tuple(iframe_prefixes)
        self.tenant_store = tenant_store

    def init_app(
        self, app: Flask, *, blueprints: Iterable[Blueprint] = (), setup: Setup | None = None
    ) -> None:
        """Wire the framework into ``app`` (its config already validated), then the app's own parts.

        ``setup`` runs once the database, queue and descriptor exist (register jobs, caches); the
        ``blueprints`` are registered with the framework's own, and then every route is checked to
        require a JWT or to say how it authenticates: an app with an unmarked route does not start.
        """
        app.config.setdefault("CLOCK", time.time)  # the time tokens and caches are checked against
        app.extensions["connect"] = self
        app.session_interface = LazyCookieSessions()
        app.extensions["tenant_store"] = self.tenant_store
        tenant_cache.init_app(app)
        secrets_at_rest.configure(app.config["SECRETS_KEYS_LIST"])
        db.init_app(app)
        app.extensions["install_keys"] = InstallKeyCache(
            app.config["INSTALL_KEYS_URL"], timeout=app.config["INSTALL_KEYS_TIMEOUT"]
        )
        descriptor.init_app(app, self.descriptor_template)
        jobs_queue.init_app(app)
        retention.init_app(app, jobs_queue.get_queue(app))
        if setup is not None:
            setup(app)
        for blueprint in (descriptor.bp, lifecycle.bp, webhooks.bp, *blueprints):
            app.register_blueprint(blueprint)
        hot_path.init_app(app)  # innermost: it sees the environ the proxy layer fixed
        proxy.init_app(app)
        server_environ.init_app(app)  # outermost: no process variable reaches a request
        http_headers.init_app(app)
        error_pages.init_app(app)
        observability.init_app(app)
        register_commands(app)
        enforce_authentication(app)
