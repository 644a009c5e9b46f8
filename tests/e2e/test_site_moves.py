"""Site moves through the emulator: a migration (new clientKey, same baseUrl) and a rename (new baseUrl)."""

from __future__ import annotations

import time
from typing import Any

import requests

from app.reports.settings import ReportSettings, load_settings, save_settings
from tests.e2e.conftest import StartApp
from tests.kit.live_sites import HTTP_TIMEOUT, RunningApp, RunningEmulator, install_app


def save(app: RunningApp, client_key: str, settings: ReportSettings) -> None:
    with app.app.app_context(), app.app.extensions["db"]() as session:
        save_settings(session, client_key, settings, updated_by=None)


def settings_of(app: RunningApp, client_key: str) -> ReportSettings:
    with app.app.app_context(), app.app.extensions["db"]() as session:
        return load_settings(session, client_key)


def test_a_migration_carries_the_settings_over_and_leaves_one_active_tenant(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any]
) -> None:
    old_key = installed["clientKey"]
    mine = ReportSettings(stale_days=45, cache_ttl_minutes=15, rows_per_page=7, excluded_spaces=("HR",))
    save(live_app, old_key, mine)
    answer = requests.post(
        f"{emulator.url}/_emulator/site/migrate", json={"clientKey": "emulator-moved-1"}, timeout=HTTP_TIMEOUT
    )
    assert answer.status_code == 200 and answer.json()["failed"] == [], answer.text

    def active() -> list[str]:
        return [t["client_key"] for t in live_app.tenants() if t["installed"]]

    deadline = time.monotonic() + 15
    while active() != ["emulator-moved-1"] and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = {t["client_key"]: t for t in live_app.tenants()}
    assert [k for k, t in rows.items() if t["installed"]] == ["emulator-moved-1"]
    assert rows[old_key]["superseded_by"] == "emulator-moved-1"
    assert rows[old_key]["uninstalled_at"] is not None  # kept only for the retention window
    assert settings_of(live_app, "emulator-moved-1") == mine
    listing = live_app.app.test_cli_runner().invoke(args=["tenants", "list", "--all"])
    assert "superseded by emulator-moved-1" in listing.output
    assert installed["baseUrl"] in listing.output


def test_a_rename_needs_the_host_allow_list_and_leaves_one_tenant_at_the_new_url(
    emulator: RunningEmulator, start_app: StartApp
) -> None:
    new_base = f"http://localhost:{emulator.port}/wiki"
    strict = start_app(emulator)
    install_app(emulator, strict)
    refused = requests.post(
        f"{emulator.url}/_emulator/site/rename", json={"baseUrl": new_base}, timeout=HTTP_TIMEOUT
    )
    assert [f["key"] for f in refused.json()["failed"]] != []  # localhost is not an allowed host there
    [row] = strict.tenants()
    assert row["base_url"] == emulator.base_url

    # Back to the first address, then an app that allows both names follows the rename.
    requests.post(
        f"{emulator.url}/_emulator/site/rename", json={"baseUrl": emulator.base_url}, timeout=HTTP_TIMEOUT
    )
    lenient = start_app(emulator, overrides={"ALLOWED_TENANT_HOSTS": ["127.0.0.1", "localhost"]})
    requests.post(f"{emulator.url}/_emulator/apps/{row['app_key']}/uninstall", timeout=HTTP_TIMEOUT)
    install_app(emulator, lenient)
    key = lenient.tenants()[0]["client_key"]
    save(lenient, key, ReportSettings(stale_days=33))
    moved = requests.post(
        f"{emulator.url}/_emulator/site/rename", json={"baseUrl": new_base}, timeout=HTTP_TIMEOUT
    )
    assert moved.status_code == 200 and moved.json()["failed"] == [], moved.text
    [renamed] = lenient.tenants()
    assert renamed["client_key"] == key and renamed["base_url"] == new_base and renamed["installed"]
    assert settings_of(lenient, key).stale_days == 33
