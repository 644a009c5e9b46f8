"""One session per app context, reused by the thread's next context once closed (``app/db.py``)."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import Flask

from app.db import get_session
from app.tenants.models import Tenant
from tests.kit.atlassian import Site


def test_the_next_context_reuses_the_session_and_finds_nothing_of_the_last(
    app: Flask, installed_site: Site
) -> None:
    with app.app_context():
        first = get_session()
        tenant = first.get(Tenant, installed_site.client_key)
        assert tenant is not None and tenant in first
    with app.app_context():
        second = get_session()
        assert second is first
        assert len(second.identity_map) == 0
        assert not second.in_transaction()
        assert tenant not in second


def test_work_left_uncommitted_is_rolled_back_not_carried_over(app: Flask, installed_site: Site) -> None:
    with app.app_context():
        get_session().execute(
            sa.update(Tenant).where(Tenant.client_key == installed_site.client_key).values(enabled=False)
        )  # never committed
    with app.app_context():
        session = get_session()
        assert not session.in_transaction()
        assert session.scalar(sa.select(Tenant.enabled).where(Tenant.client_key == installed_site.client_key))


def test_threads_never_share_a_session(app: Flask) -> None:
    seen: list[object] = []

    def open_one() -> None:
        with app.app_context():
            seen.append(get_session())

    with app.app_context():
        mine = get_session()
    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(session) for session in seen}) == 4
    assert mine not in seen
