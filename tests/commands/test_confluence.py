"""``flask confluence pages`` against the fake Confluence, with a tenant row in a fresh database."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from app.db import get_session
from app.tenants.models import Tenant
from tests.confluence.fake_confluence import SECRET, FakeConfluence
from tests.kit.constants import APP_KEY


@pytest.fixture
def tenant(app: Flask, fake_site: FakeConfluence) -> str:
    with app.app_context():
        session = get_session()
        session.add(
            Tenant(
                client_key="tenant-1",
                app_key=APP_KEY,
                shared_secret=SECRET,
                base_url=fake_site.base_url,
                product_type="confluence",
            )
        )
        session.commit()
    return "tenant-1"


def run(app: Flask, *args: str) -> tuple[int, str, str]:
    result = app.test_cli_runner().invoke(args=["confluence", "pages", *args])
    return result.exit_code, result.stdout, result.stderr


def test_pages_are_written_as_json_lines(app: Flask, tenant: str, fake_site: FakeConfluence) -> None:
    code, out, err = run(app, "--tenant", tenant)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 600 and len({page["id"] for page in lines}) == 600
    assert err == ""  # no progress output when stderr is not a terminal
    assert fake_site.auth_failures == []


def test_space_and_limit_stop_early(app: Flask, tenant: str, fake_site: FakeConfluence) -> None:
    code, out, err = run(app, "--tenant", tenant, "--space", "ENG", "--limit", "3")
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["1000", "1002", "1004"]
    assert [a.raw_uri.split("?")[0] for a in fake_site.arrivals] == [
        "/wiki/api/v2/spaces",
        "/wiki/api/v2/spaces/1/pages",
    ]


def test_unknown_tenant_fails_clearly(app: Flask, tenant: str) -> None:
    code, out, err = run(app, "--tenant", "nobody")
    assert code != 0 and out == ""
    assert "No installed tenant with client key 'nobody'" in err


def test_unknown_space_fails_clearly(app: Flask, tenant: str) -> None:
    code, out, err = run(app, "--tenant", tenant, "--space", "NOPE")
    assert code != 0 and out == ""
    assert "No space with key 'NOPE'" in err


def test_confluence_errors_become_messages(app: Flask, tenant: str, fake_site: FakeConfluence) -> None:
    fake_site.collections.pop("/pages")
    code, _, err = run(app, "--tenant", tenant)
    assert code != 0
    assert "Confluence answered 404 to GET" in err and SECRET not in err


def test_progress_is_drawn_only_on_a_terminal() -> None:
    import io

    from app.commands.confluence import _Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = _Progress(stream)
        for count in range(1, 101):
            progress.update(count)
        progress.done(100)
    assert terminal.getvalue().endswith("\r100 pages.\n") and "\r50 pages…" in terminal.getvalue()
    assert pipe.getvalue() == ""
