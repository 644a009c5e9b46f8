"""The tenant cache of the hot path (app/connect/tenant_cache.py) in one process: what it keeps, for
how long, and what evicts it. The two-process bound is in test_tenant_cache_processes.py."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.connect.tenant_cache import TenantCache
from app.tenants.models import Tenant
from tests.conftest import install, uninstall
from tests.kit.atlassian import Atlassian, Site


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tenant(client_key: str = "site-1", *, installed: bool = True, secret: str = "s" * 32) -> Tenant:
    return Tenant(
        client_key=client_key,
        app_key="app",
        shared_secret=secret,
        base_url="https://acme.atlassian.net/wiki",
        product_type="confluence",
        installed=installed,
        enabled=True,
    )


def test_an_installed_tenant_is_kept_for_ttl_seconds_from_when_its_read_began() -> None:
    clock = Clock()
    cache = TenantCache(1.0, clock)

    def slow_read(client_key: str) -> Tenant:
        clock.now += 0.4  # the read itself takes time: the copy's age counts from its start
        return tenant(client_key)

    loaded = cache.load("site-1", slow_read)
    assert loaded is not None and loaded.shared_secret == "s" * 32
    clock.now = 100.99
    assert cache.get("site-1") == loaded
    clock.now = 101.0
    assert cache.get("site-1") is None


def test_a_tenant_not_found_or_not_installed_is_never_kept() -> None:
    cache = TenantCache(1.0, Clock())
    assert cache.load("missing", lambda _key: None) is None
    assert cache.load("gone", lambda key: tenant(key, installed=False)) is None
    assert cache.get("missing") is None and cache.get("gone") is None and len(cache) == 0


def test_a_refusal_drops_an_earlier_copy() -> None:
    cache = TenantCache(1.0, Clock())
    cache.load("site-1", tenant)
    assert cache.load("site-1", lambda _key: None) is None
    assert cache.get("site-1") is None


def test_a_ttl_of_zero_keeps_nothing() -> None:
    cache = TenantCache(0.0, Clock())
    assert cache.load("site-1", tenant) is not None
    assert cache.get("site-1") is None and len(cache) == 0


def test_the_copy_never_shows_the_secret() -> None:
    loaded = TenantCache(1.0, Clock()).load("site-1", lambda key: tenant(key, secret="hush-" * 8))
    assert "hush" not in repr(loaded)


def cached_keys(app: Flask) -> int:
    return len(app.extensions["tenant_cache"])


def context_get(client: FlaskClient, site: Site, secret: str | None = None) -> int:
    token = (
        site.context_token()
        if secret is None
        else site.host_token("GET", "/", qsh="context-qsh", secret=secret)
    )
    return client.post("/api/freshness/status", headers={"Authorization": f"JWT {token}"}).status_code


def test_this_process_evicts_on_its_own_lifecycle_callbacks(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    assert context_get(client, installed_site) == 405  # authenticated (the route answers GET only)
    assert cached_keys(app) == 1
    assert uninstall(client, atlassian, installed_site).status_code == 204
    assert cached_keys(app) == 0
    assert context_get(client, installed_site) == 401


def test_a_reinstall_in_this_process_replaces_the_secret_at_once(
    app: Flask, client: FlaskClient, atlassian: Atlassian, installed_site: Site
) -> None:
    old = installed_site.shared_secret
    assert context_get(client, installed_site) == 405
    installed_site.shared_secret = "a-brand-new-secret-after-reinstall-0123456789"
    assert install(client, atlassian, installed_site).status_code == 204
    assert context_get(client, installed_site, secret=old) == 401
    assert context_get(client, installed_site) == 405


def test_a_bad_signature_costs_one_fresh_read_and_is_refused(
    app: Flask, client: FlaskClient, installed_site: Site, monkeypatch: Any
) -> None:
    assert context_get(client, installed_site) == 405
    reads: list[str] = []
    store_get = app.extensions["tenant_store"]

    def counting_store(session: Any) -> Any:
        store = store_get(session)
        original = store.get_installed

        def get_installed(client_key: str) -> Tenant | None:
            reads.append(client_key)
            return original(client_key)

        store.get_installed = get_installed
        return store

    monkeypatch.setitem(app.extensions, "tenant_store", counting_store)
    assert context_get(client, installed_site) == 405
    assert reads == []  # warm: no read at all
    assert context_get(client, installed_site, secret="x" * 40) == 401
    assert reads == [installed_site.client_key]
