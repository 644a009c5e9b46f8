"""The admin page in Chromium: saving settings changes the macro's next render; errors and non-admins don't.

Each test gets its own emulator (60 DOCS pages), app, database and real install.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from emulator.site import ADMIN_ACCOUNT_ID, USER_ACCOUNT_ID
from tests.kit.browser import ModuleFrame, open_module, screenshot
from tests.kit.live_sites import ADMIN_MODULE, HTTP_TIMEOUT, MACRO_MODULE, RunningApp, RunningEmulator

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Page

pytestmark = pytest.mark.browser

DOCS_PAGES = 60
WAIT_MS = 15_000
#: The save status line shows the answer (not empty, not "Saving…").
SETTLED = (
    "() => { const t = document.getElementById('save-status').textContent; return t && t !== 'Saving…'; }"
)
DEFAULTS = {"staleDays": 90, "cacheTtlMinutes": 60, "rowsPerPage": 10, "excludedSpaces": []}


@pytest.fixture
def emulator(start_emulator: Any) -> RunningEmulator:
    emulator: RunningEmulator = start_emulator(pages=DOCS_PAGES)
    return emulator


def open_macro(page: Page, emulator: RunningEmulator) -> Frame:
    macro = open_module(page, emulator.space_home_url("DOCS"), MACRO_MODULE)
    assert macro.status == 200, macro.text()
    macro.frame.locator("#item-rows").wait_for(timeout=WAIT_MS)
    return macro.frame


def open_admin(page: Page, emulator: RunningEmulator, query: str = "") -> ModuleFrame:
    return open_module(page, emulator.module_page_url(ADMIN_MODULE) + query, ADMIN_MODULE)


def macro_state(frame: Frame) -> tuple[str, int, int]:
    """(stale label, table rows, stale count) as the reader sees them."""
    label = frame.locator(".stat-stale dt").inner_text().strip()
    rows = frame.locator("#item-rows tr").count()
    stale = int(frame.locator('[data-testid="stale"]').inner_text().replace(",", ""))
    return label, rows, stale


def expected_stale(emulator: RunningEmulator, stale_days: int, now: float) -> int:
    site = emulator.state.site
    space = site.space_by_key("DOCS")
    assert space is not None
    threshold = now - stale_days * 86_400
    pages = (site.content[i] for i in site.pages_by_space[space.id])
    return sum(1 for p in pages if p.status == "current" and p.modified_at < threshold)


def fill_and_save(frame: Frame, values: dict[str, str]) -> str:
    """Fill the form, press Save, wait for the status line to settle; return it."""
    for name, value in values.items():
        frame.locator(f"#{name}").fill(value)
    status = frame.locator("#save-status")
    frame.get_by_role("button", name="Save").click()
    frame.wait_for_function(SETTLED, timeout=WAIT_MS)
    return status.inner_text()


def settings_via_api(emulator: RunningEmulator, live_app: RunningApp, account_id: str) -> requests.Response:
    token = emulator.context_token(account_id, space_key="DOCS")
    return requests.get(
        f"{live_app.url}/api/admin/settings", headers={"Authorization": f"JWT {token}"}, timeout=HTTP_TIMEOUT
    )


def test_saved_settings_change_the_macros_next_render(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any], page: Page
) -> None:
    label, rows, _ = macro_state(open_macro(page, emulator))
    assert (label, rows) == ("Stale (over 90 days)", 10)

    admin = open_admin(page, emulator)
    assert admin.status == 200
    form = admin.frame
    assert [form.locator(f"#{n}").input_value() for n in ("staleDays", "cacheTtlMinutes", "rowsPerPage")] == [
        "90",
        "60",
        "10",
    ]
    health = form.locator(".health").inner_text()
    assert emulator.host_port in health
    assert re.search(r"Installed since\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC", health), health
    assert form.locator('[data-testid="rate-limit-hits"]').inner_text().strip() == "0"

    status = fill_and_save(form, {"staleDays": "30", "rowsPerPage": "3"})
    assert status.startswith("Saved."), status
    assert all(form.locator(f"#{n}-error").is_hidden() for n in DEFAULTS)
    screenshot(page, "product-admin-saved")

    before = time.time()
    frame = open_macro(page, emulator)  # the cached 90-day report was dropped on save
    after = time.time()
    label, rows, stale = macro_state(frame)
    assert (label, rows) == ("Stale (over 30 days)", 3)
    assert expected_stale(emulator, 30, after) >= stale >= expected_stale(emulator, 30, before)
    # "Show more" pages by the new size too.
    frame.locator("#show-more").click()
    frame.locator("#more-status").filter(has_text=re.compile(r"^Showing the 6 stalest items")).wait_for(
        timeout=WAIT_MS
    )
    assert frame.locator("#item-rows tr").count() == 6

    saved = settings_via_api(emulator, live_app, ADMIN_ACCOUNT_ID)
    assert saved.status_code == 200
    assert saved.json()["settings"] == {**DEFAULTS, "staleDays": 30, "rowsPerPage": 3}


@pytest.mark.parametrize(
    ("field", "value"), [("staleDays", "0"), ("rowsPerPage", "101"), ("excludedSpaces", "not a key!")]
)
def test_an_invalid_value_shows_the_fields_error_and_changes_nothing(
    emulator: RunningEmulator,
    live_app: RunningApp,
    installed: dict[str, Any],
    page: Page,
    field: str,
    value: str,
) -> None:
    admin = open_admin(page, emulator)
    form = admin.frame
    assert fill_and_save(form, {"staleDays": "30", "rowsPerPage": "3"}).startswith("Saved.")

    # A valid change to another field rides along: nothing of the form may be saved.
    other = {"staleDays": "45", "rowsPerPage": "5"}
    other.pop(field, None)
    status = fill_and_save(form, {field: value, **other})
    assert not status.startswith("Saved."), status
    error = form.locator(f"#{field}-error")
    assert error.is_visible()
    assert error.inner_text().strip() != ""
    assert form.locator(f"#{field}").get_attribute("aria-invalid") == "true"
    for name in DEFAULTS:
        if name != field:
            assert form.locator(f"#{name}-error").is_hidden(), name
    screenshot(page, f"product-admin-invalid-{field}")

    label, rows, _ = macro_state(open_macro(page, emulator))
    assert (label, rows) == ("Stale (over 30 days)", 3)
    saved = settings_via_api(emulator, live_app, ADMIN_ACCOUNT_ID)
    assert saved.json()["settings"] == {**DEFAULTS, "staleDays": 30, "rowsPerPage": 3}


def test_a_non_admin_gets_403_in_the_frame_and_cannot_save(
    emulator: RunningEmulator, live_app: RunningApp, installed: dict[str, Any], page: Page
) -> None:
    admin = open_admin(page, emulator, "?user=user")
    assert admin.status == 403
    text = admin.text()
    assert "Not authorised" in text
    assert admin.frame.locator("#settings-form").count() == 0
    assert admin.frame.locator(".health").count() == 0
    # The frame was signed for Una (the iframe JWT's subject), not for the admin.
    frame_jwt = parse_qs(urlsplit(admin.frame.url).query)["jwt"][0]
    assert jwt.decode(frame_jwt, options={"verify_signature": False})["sub"] == USER_ACCOUNT_ID
    screenshot(page, "product-admin-403")

    # Had the form been there, the save would be refused: a context token for Una, straight to the API.
    token = emulator.context_token(USER_ACCOUNT_ID, space_key="DOCS")
    refused = requests.post(
        f"{live_app.url}/api/admin/settings",
        json={"staleDays": "7", "cacheTtlMinutes": "5", "rowsPerPage": "2", "excludedSpaces": "DOCS"},
        headers={"Authorization": f"JWT {token}"},
        timeout=HTTP_TIMEOUT,
    )
    assert refused.status_code == 403, refused.text
    assert settings_via_api(emulator, live_app, USER_ACCOUNT_ID).status_code == 403

    # Nothing changed: the admin still reads the defaults, and the macro renders with them.
    saved = settings_via_api(emulator, live_app, ADMIN_ACCOUNT_ID)
    assert saved.status_code == 200
    assert saved.json()["settings"] == DEFAULTS
    label, rows, _ = macro_state(open_macro(page, emulator))  # still as Una (the host page's cookie)
    assert (label, rows) == ("Stale (over 90 days)", 10)
