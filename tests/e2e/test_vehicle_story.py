"""Cars in Chromium (issue #15 item 2): the office registers a household's car on /vehicles
and prints its windscreen card; at the phone gate (360x640) the volunteer types an outside
plate on the plate keypad (province picker, then letters and digits, checked as typed) and
the car is turned away (外地车辆，禁止进入); the car's windscreen card held to the camera lets
it through; the office's log shows both with their plates, in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import (
    SCREENSHOTS,
    launch,
    live_server,
    log_in,
    require_browser,
    seed_site,
)
from phone_gate_helpers import PHONE
from sqlalchemy import select

from gate.accounts.models import Role
from gate.db import transaction
from gate.households.models import Household
from gate.vehicles.issuing import vehicle_pass_text
from gate.vehicles.models import VehiclePassRecord
from passes import HouseholdStatus

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000


def _type(gate: object, text: str) -> None:
    for ch in text:
        gate.click(f'.vehicle-key[data-char="{ch}"]')  # type: ignore[attr-defined]


def test_an_outside_plate_is_turned_away_and_a_registered_car_passes(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=12)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with transaction(site.sessions, read_only=True) as session:
        code = session.scalars(
            select(Household.code)
            .where(Household.status == HouseholdStatus.NORMAL)
            .order_by(Household.id.desc())
        ).first()
    assert code is not None
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            office = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            office.set_default_timeout(TIMEOUT_MS)
            page = office.new_page()
            log_in(page, base, "office", site.passwords[Role.OFFICE])
            page.goto(f"{base}/vehicles")
            page.fill("#household", code)
            page.fill("#plate", "闽c 66666")
            page.fill("#note", "黑色越野")
            page.click("#add-vehicle button[type=submit]")
            page.wait_for_selector("text=闽C66666")
            page.screenshot(path=SCREENSHOTS / "vehicles-console.png", full_page=True)
        finally:
            browser.close()

        with transaction(site.sessions) as session:
            record = session.scalars(
                select(VehiclePassRecord).where(VehiclePassRecord.plate == "闽C66666")
            ).one()
            text = vehicle_pass_text(session, record)
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(locale="zh-CN", viewport=PHONE)
            context.set_default_timeout(TIMEOUT_MS)
            gate = context.new_page()
            problems: list[str] = []
            gate.on("pageerror", lambda error: problems.append(str(error)))
            log_in(gate, base, "volunteer", site.passwords[Role.VOLUNTEER])
            gate.goto(f"{base}/gate")
            gate.wait_for_selector("#vehicle-open")
            # The windscreen card read (as the camera would): the car goes out with its pass.
            gate.evaluate("text => window.GatePage.codeRead(text)", text)
            gate.wait_for_function(
                "() => document.querySelector('#verdict-reason').textContent === '车辆凭通行证通行'"
            )
            assert gate.text_content("#verdict-headline") == "通过"
            assert "闽C66666" in (gate.text_content("#verdict-label") or "")
            gate.screenshot(path=SCREENSHOTS / "phone-gate-360x640-vehicle-pass.png")
            gate.click("#verdict-done")
            gate.click('.dir-button[data-direction="in"]')
            gate.click("#vehicle-open")
            _type(gate, "京A1234")
            assert gate.text_content("#vehicle-message")  # too short: said so, not ok
            assert "is-ok" not in (gate.get_attribute("#vehicle-message", "class") or "")
            _type(gate, "5")
            assert "is-ok" in (gate.get_attribute("#vehicle-message", "class") or "")
            gate.screenshot(path=SCREENSHOTS / "phone-gate-360x640-vehicle-keypad.png")
            gate.click("#vehicle-check")
            reason = "() => document.querySelector('#verdict-reason').textContent"
            gate.wait_for_function(f"{reason} === '外地车辆，禁止进入'")
            assert gate.text_content("#verdict-headline") == "禁止"
            gate.screenshot(path=SCREENSHOTS / "phone-gate-360x640-vehicle-outside.png")
            assert problems == []
        finally:
            browser.close()

        browser = launch(playwright, chromium)
        try:
            office = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            office.set_default_timeout(TIMEOUT_MS)
            page = office.new_page()
            log_in(page, base, "office", site.passwords[Role.OFFICE])
            page.goto(f"{base}/log")
            table = page.inner_text("#crossings")
            assert "外地车辆，禁止进入" in table
            assert "闽C66666" in table
            assert "京A12345" in table
        finally:
            browser.close()
