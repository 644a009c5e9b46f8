"""Webhooks from a live emulator keep the live app's reports current without rescans (issue 13)."""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from app.confluence.factory import ClientSettings, client_as_app
from app.reports.cache import ReportCache
from app.reports.model import FreshnessReport, ReportItem, ReportScope
from app.reports.scan import scan
from app.reports.webhook_updates import counters
from app.tenants.credentials import Credentials
from app.tenants.store import TenantStore
from tests.e2e.conftest import StartApp, StartEmulator
from tests.e2e.test_two_sites import get_macro, host_token
from tests.kit.confluence import scan_list_calls
from tests.kit.live_sites import HTTP_TIMEOUT, RunningApp, RunningEmulator, install_app

SCOPE = ReportScope(space_key="DOCS")
SEED = int(os.environ.get("BURST_SEED", "4"))


def control(emulator: RunningEmulator, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    return requests.post(f"{emulator.url}/_emulator{path}", json=body or {}, timeout=HTTP_TIMEOUT)


def cached(app: RunningApp) -> FreshnessReport | None:
    with app.app.app_context(), app.app.extensions["db"]() as session:
        found = ReportCache(session).get(client_key(app), SCOPE.cache_key)
        return found.report if found is not None else None


def client_key(app: RunningApp) -> str:
    keys = [t["client_key"] for t in app.tenants() if t["installed"]]
    assert len(keys) == 1, keys
    return keys[0]


def list_calls(emulator: RunningEmulator) -> int:
    return scan_list_calls(emulator.url)


def wait_until(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def rescan(app: RunningApp, reference: datetime) -> FreshnessReport:
    with app.app.app_context(), app.app.extensions["db"]() as session:
        tenant = TenantStore(session).get_installed(client_key(app))
        assert tenant is not None
        creds = Credentials.of(tenant)
    with client_as_app(creds, ClientSettings.from_config(app.app.config)) as client:
        return scan(client, SCOPE, reference)


def rows(report: FreshnessReport) -> list[tuple[str, int | None, int, str, str | None, str | None]]:
    # Milliseconds: the emulator's webhook rounds a version's time where its REST truncates it.
    def row(item: ReportItem) -> tuple[str, int | None, int, str, str | None, str | None]:
        return (item.id, item.version, int(item.updated_at.timestamp()), item.title, item.webui, item.editor)

    return [row(item) for item in report.items]


def test_an_updated_stale_page_leaves_the_macro_within_seconds_without_a_rescan(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any]
) -> None:
    secret = emulator.shared_secret()
    first = get_macro(live_app, host_token(iss=installed["clientKey"], secret=secret))
    report = cached(live_app)
    assert report is not None and report.stale > 0
    stalest = report.items[0]
    assert f"/pages/{stalest.id}/" in first.text
    requests.post(f"{emulator.url}/_emulator/stats/reset", timeout=HTTP_TIMEOUT).raise_for_status()

    started = time.monotonic()
    assert control(emulator, f"/pages/{stalest.id}/update").status_code == 200

    def gone() -> bool:
        html = get_macro(live_app, host_token(iss=installed["clientKey"], secret=secret)).text
        return f"/pages/{stalest.id}/" not in html

    assert wait_until(gone, timeout=10.0)
    elapsed = time.monotonic() - started
    after = cached(live_app)
    assert after is not None
    assert after.stale == report.stale - 1 and after.scanned == report.scanned
    assert list_calls(emulator) == 0, "no scan: the webhook did it"
    assert elapsed < 10.0


@pytest.mark.parametrize("seed", [SEED])
def test_a_burst_of_webhooks_with_duplicates_and_reordering_equals_a_rescan(
    start_emulator: StartEmulator, start_app: StartApp, seed: int
) -> None:
    emulator = start_emulator(seed=seed)
    live_app = start_app(emulator)
    installed = install_app(emulator, live_app)
    get_macro(live_app, host_token(iss=installed["clientKey"], secret=emulator.shared_secret()))
    before = cached(live_app)
    assert before is not None and before.scanned <= len(before.items)  # a complete report
    site = emulator.state.site
    docs = site.space_by_key("DOCS")
    eng = site.space_by_key("ENG")
    assert docs is not None and eng is not None
    homes = {s.homepage_id for s in site.spaces}
    control(emulator, "/webhooks/faults", {"duplicate": True, "shuffle": True, "seed": 13})
    control(emulator, "/webhooks/pause")
    rng = random.Random(7)
    at = int(time.time()) + 5
    made = 0
    tries = 0
    while made < 500 and tries < 5000:
        tries += 1
        at += 1
        pages = [c for c in site.content.values() if c.kind == "page" and c.space_id == docs.id]
        page = rng.choice(pages)
        leaf = not site.children.get(page.id)
        op = rng.choice(
            ["update", "update", "trash", "restore", "archive", "unarchive", "create", "move", "away"]
        )
        if op == "create":
            answer = control(
                emulator, "/pages", {"spaceKey": "DOCS", "title": f"New {made}", "createdAt": at}
            )
        elif op == "move" and leaf and page.id not in homes:
            parent = rng.choice([p for p in pages if p.status == "current" and p.id != page.id])
            answer = control(emulator, f"/pages/{page.id}/move", {"parentId": parent.id, "at": at})
        elif op == "away" and leaf and page.id not in homes and rng.random() < 0.2:
            answer = control(emulator, f"/pages/{page.id}/move", {"spaceKey": "ENG", "at": at})
        elif op in ("update", "trash", "restore", "archive", "unarchive") and (op == "update" or leaf):
            answer = control(emulator, f"/pages/{page.id}/{op}", {"at": at})
        else:
            continue
        if answer.status_code in (200, 201):
            made += 1
    assert made == 500
    assert control(emulator, "/webhooks/resume").status_code == 200
    assert control(emulator, "/webhooks/flush", {"timeout": 60}).status_code == 200
    log = requests.get(f"{emulator.url}/_emulator/webhooks", timeout=HTTP_TIMEOUT).json()["deliveries"]
    sent = [d for d in log if d["state"] == "sent"]
    assert len(sent) >= 1000 - 5, {d["state"] for d in log}  # every change twice (a few not DOCS-visible)
    assert any(d["duplicate"] for d in sent)
    queue = live_app.app.extensions["jobs"]
    assert wait_until(lambda: queue.pending_count() == 0, timeout=60.0)

    def settled() -> bool:  # the worker may still be applying the last message it took
        report = cached(live_app)
        assert report is not None
        expected = rescan(live_app, report.reference_time)
        return (report.scanned, report.stale, rows(report)) == (
            expected.scanned,
            expected.stale,
            rows(expected),
        )

    wait_until(settled, timeout=20.0)
    after = cached(live_app)
    assert after is not None
    expected = rescan(live_app, after.reference_time)
    assert (after.scanned, after.stale) == (expected.scanned, expected.stale)
    assert rows(after) == rows(expected)
    assert after.scanned != before.scanned or rows(after) != rows(before)

    # The periodic rescan finds nothing the webhooks missed, and says so.
    with live_app.app.app_context(), live_app.app.extensions["db"]() as session:
        seen = counters(session)
        outcome = live_app.app.extensions["scan_runner"]
        from app.reports.jobs import ScanJobs

        queued, _ = ScanJobs(session).request(
            client_key(live_app), SCOPE, now=datetime.now(UTC), total_hint=None
        )
        assert queued
    assert outcome.run(client_key(live_app), SCOPE.cache_key) == "done"
    with live_app.app.app_context(), live_app.app.extensions["db"]() as session:
        now_seen = counters(session)
    assert now_seen.get("rescans_compared", 0) == seen.get("rescans_compared", 0) + 1
    assert now_seen.get("rescans_differed", 0) == seen.get("rescans_differed", 0)
