"""A phone gate holding unsent crossings is seen by the office, in Chromium: the volunteer's
phone (360x640) goes offline and scans (journaled on the phone); the network comes back but
its uploads do not get through, while its bundle refreshes do and carry its own id and its
unsent count. The phone then drops off the network. Ten minutes later the office's
扫码设备 page (1280 wide) lists it under its gate as 手机 · <volunteer>, 未上传 1,
有未上传记录. When the phone's uploads get through, the page shows 0 and 正常."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import SCREENSHOTS, launch, live_server, log_in, require_browser, seed_site
from phone_gate_helpers import card_of_a_fresh_household, open_phone, scan_once, unsent_count
from sqlalchemy import select

from gate.accounts.models import Role, User
from gate.db import transaction
from gate.devices.models import PhoneGate

pytestmark = pytest.mark.browser

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _phone_row(office: Any, base: str, phone_id: str) -> dict[str, str]:
    office.goto(f"{base}/devices")
    row = office.locator(f'tr.phone-gate[data-phone="{phone_id}"]')
    cells = row.locator("td")
    return {
        "gate": row.evaluate("r => r.closest('section').id"),
        "name": cells.nth(0).inner_text(),
        "unsent": cells.nth(2).inner_text(),
        "badge": cells.nth(3).inner_text(),
        "state": row.locator(".badge").get_attribute("data-state") or "",
    }


def test_a_phone_holding_unsent_crossings_shows_on_the_devices_page(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    card = card_of_a_fresh_household(site, tmp_path)
    services = site.app.extensions["checkpoint"]
    with transaction(site.sessions, read_only=True) as session:
        volunteer = session.scalars(select(User).where(User.username == "volunteer")).one()
        name = volunteer.display_name
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium, fake_video=card.video)
        try:
            phone = open_phone(browser, base, "volunteer", site.passwords[Role.VOLUNTEER])
            page = phone.page
            phone_id = page.evaluate("() => window.GateOffline.phoneId()")
            assert UUID.match(phone_id), phone_id
            page.reload()  # the id is kept: the same phone after a reload
            page.wait_for_selector("#gate[data-kept='1']")
            assert page.evaluate("() => window.GateOffline.phoneId()") == phone_id

            phone.context.set_offline(True)
            first = scan_once(page, "out", "36.5")
            assert (first["headline"], first["offline"]) == ("通过", "1")
            page.click("#verdict-done")
            assert unsent_count(page) == 1

            # Back on a network that lets the bundle through but not the uploads.
            page.route("**/gate/crossings/batch*", lambda route: route.abort())
            phone.context.set_offline(False)
            page.evaluate("() => window.GateOffline.refreshBundle()")
            assert unsent_count(page) == 1
            phone.context.set_offline(True)  # and then gone

            with transaction(site.sessions, read_only=True) as session:
                row = session.get(PhoneGate, (volunteer.community_id, phone_id))
                assert row is not None
                assert (row.user_id, row.last_backlog) == (volunteer.id, 1)
                gate_id = row.gate_id

            later = datetime.now(UTC) + timedelta(minutes=10)
            services.clock = lambda: later
            office_context = browser.new_context(
                locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            office = office_context.new_page()
            log_in(office, base, "office", site.passwords[Role.OFFICE])
            seen = _phone_row(office, base, phone_id)
            assert seen == {
                "gate": f"gate-{gate_id}",
                "name": f"手机 · {name}",
                "unsent": "1",
                "badge": "有未上传记录",
                "state": "unsent",
            }
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            office.screenshot(path=SCREENSHOTS / "devices-1280-phone-unsent.png", full_page=True)

            # The phone's uploads get through: it says so, the office sees 0 and 正常.
            services.clock = lambda: datetime.now(UTC) + timedelta(minutes=10)
            page.unroute("**/gate/crossings/batch*")
            phone.context.set_offline(False)
            page.evaluate("() => window.GateOffline.upload()")
            page.wait_for_function("() => document.querySelector('#unsent').dataset.count === '0'")
            page.evaluate("() => window.GateOffline.refreshBundle()")
            seen = _phone_row(office, base, phone_id)
            assert (seen["unsent"], seen["badge"], seen["state"]) == ("0", "正常", "normal")
            assert phone.problems == []
        finally:
            browser.close()
