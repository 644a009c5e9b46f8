"""Personal data reporting against the emulator's API: closed accounts erased, cycle and Retry-After."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from app.reports.privacy import BATCH, PersonalDataCycle, report_accounts
from app.reports.settings import ReportSettings, save_settings
from tests.e2e.test_two_sites import get_macro, host_token
from tests.kit.confluence import USER_ACCOUNT
from tests.kit.live_sites import HTTP_TIMEOUT, RunningApp, RunningEmulator
from tests.kit.store import dump_database


def cycle(app: RunningApp, client_key: str) -> PersonalDataCycle:
    with app.app.app_context(), app.app.extensions["db"]() as session:
        row = session.get(PersonalDataCycle, client_key)
        assert row is not None
        session.expunge(row)
        return row


def calls(emulator: RunningEmulator) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = requests.get(
        f"{emulator.url}/_emulator/personal-data/calls", timeout=HTTP_TIMEOUT
    ).json()["calls"]
    return found


def test_a_closed_account_is_erased_everywhere_and_the_cycle_is_honoured(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any]
) -> None:
    key = installed["clientKey"]
    html = get_macro(live_app, host_token(iss=key, secret=emulator.shared_secret())).text
    assert "Una User" in html or USER_ACCOUNT in dump_database(live_app.app)
    with live_app.app.app_context(), live_app.app.extensions["db"]() as session:
        save_settings(session, key, ReportSettings(stale_days=30), updated_by=USER_ACCOUNT)
    assert USER_ACCOUNT in dump_database(live_app.app)
    closed = requests.post(
        f"{emulator.url}/_emulator/accounts/{USER_ACCOUNT}/close", json={}, timeout=HTTP_TIMEOUT
    )
    assert closed.status_code == 200

    started = datetime.now(UTC)
    assert live_app.app.extensions["personal_data"]() == 1
    made = calls(emulator)
    assert made and all(len(c["accounts"]) <= BATCH for c in made)
    assert USER_ACCOUNT in {a["accountId"] for c in made for a in c["accounts"]}
    dump = dump_database(live_app.app)
    assert USER_ACCOUNT not in dump
    html = get_macro(live_app, host_token(iss=key, secret=emulator.shared_secret())).text
    assert "Una User" not in html
    row = cycle(live_app, key)
    next_run = row.next_run_at.replace(tzinfo=UTC)
    assert timedelta(seconds=604800 - 60) <= next_run - started <= timedelta(seconds=604800 + 60)

    # Not due again before the cycle ends: no call.
    assert live_app.app.extensions["personal_data"]() == 0
    assert len(calls(emulator)) == len(made)


def test_a_429_reschedules_after_retry_after_without_sleeping(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any]
) -> None:
    key = installed["clientKey"]
    get_macro(live_app, host_token(iss=key, secret=emulator.shared_secret()))
    requests.post(
        f"{emulator.url}/_emulator/personal-data/faults",
        json={"count": 1, "retryAfter": 120},
        timeout=HTTP_TIMEOUT,
    ).raise_for_status()
    started = time.monotonic()
    now = datetime.now(UTC)
    assert live_app.app.extensions["personal_data"]() == 1
    assert time.monotonic() - started < 5.0
    row = cycle(live_app, key)
    assert row.last_outcome == "rate limited"
    assert timedelta(seconds=115) <= row.next_run_at.replace(tzinfo=UTC) - now <= timedelta(seconds=125)
    assert [c["status"] for c in calls(emulator)] == [429]


def test_batches_hold_at_most_90_accounts_and_read_the_answer() -> None:
    accounts = {f"acc-{n:03d}": datetime(2030, 1, 1, tzinfo=UTC) for n in range(200)}
    sent: list[list[dict[str, str]]] = []

    def post(batch: list[dict[str, str]]) -> tuple[int, dict[str, str], Any]:
        sent.append(batch)
        if len(sent) == 2:
            return (
                200,
                {"Cycle-Period": "3600"},
                {
                    "accounts": [
                        {"accountId": "acc-100", "status": "closed"},
                        {"accountId": "acc-101", "status": "updated"},
                    ]
                },
            )
        return 204, {"Cycle-Period": "3600"}, None

    now = datetime(2030, 1, 2, tzinfo=UTC)
    outcome = report_accounts(accounts, post, now)
    assert [len(b) for b in sent] == [90, 90, 20]
    assert sent[0][0] == {"accountId": "acc-000", "updatedAt": "2030-01-01T00:00:00.000Z"}
    assert outcome.closed == {"acc-100"} and outcome.updated == {"acc-101"}
    assert outcome.next_run_at == now + timedelta(hours=1)
