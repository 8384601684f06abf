"""A car at the phone gate offline, in Chromium (360x640): with the network gone, a registered
car's windscreen card (VH1) is decided on the phone from the bundle (车辆凭通行证通行, marked
offline, the plate and the household shown) and journaled; a plate typed alone says it needs
the network and records nothing. Back online, the journal uploads the car exactly once: one
crossing with subject 'vehicle', its plate and its car, stored offline as decided."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import SCREENSHOTS, launch, live_server, log_in, require_browser, seed_site
from phone_gate_helpers import PHONE, unsent_count
from sqlalchemy import select

from gate.accounts.models import Role
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.households.models import Household
from gate.services import now
from gate.vehicles.issuing import issue_vehicle_pass
from gate.vehicles.models import Vehicle
from gate.vehicles.registry import add_vehicle
from passes import HouseholdStatus

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
PLATE = "闽C77777"
READY = "() => { const s = window.GateOffline.status(); return s.hasBundle && !s.uploading; }"
REASON = "() => document.querySelector('#verdict-reason').textContent"


def _car_crossings(site: object) -> list[Crossing]:
    with transaction(site.sessions, read_only=True) as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(Crossing).where(Crossing.subject == "vehicle")))


def test_a_car_with_its_pass_is_decided_offline_and_uploaded_once(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with site.app.app_context(), transaction(site.sessions) as session:
        household = session.scalars(
            select(Household).where(Household.status == HouseholdStatus.NORMAL)
        ).first()
        assert household is not None
        at = now()
        add_vehicle(
            session,
            community_id=household.community_id,
            household_code=household.code,
            plate=PLATE,
            note="白色轿车",
            actor="office",
            now=at,
        )
        text = issue_vehicle_pass(
            session, community_id=household.community_id, plate=PLATE, actor="office", now=at
        ).text
        code = household.code
    before = len(_car_crossings(site))
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(locale="zh-CN", viewport=PHONE)
            context.set_default_timeout(TIMEOUT_MS)
            gate = context.new_page()
            problems: list[str] = []
            gate.on("pageerror", lambda error: problems.append(str(error)))
            log_in(gate, base, "volunteer", site.passwords[Role.VOLUNTEER])
            gate.goto(f"{base}/gate")
            gate.wait_for_selector("#gate[data-kept='1']")
            gate.wait_for_function(READY)

            context.set_offline(True)
            gate.click('.dir-button[data-direction="out"]')
            gate.evaluate("text => window.GatePage.codeRead(text)", text)
            gate.wait_for_function(f"{REASON} === '车辆凭通行证通行'")
            assert gate.text_content("#verdict-headline") == "通过"
            assert gate.get_attribute("#verdict", "data-offline") == "1"
            label = gate.text_content("#verdict-label") or ""
            assert PLATE in label
            assert code in label
            gate.wait_for_function("() => document.querySelector('#unsent').dataset.count === '1'")
            gate.screenshot(path=SCREENSHOTS / "phone-gate-360x640-vehicle-offline.png")
            gate.click("#verdict-done")

            # A plate alone needs the server's register: said so, nothing journaled.
            gate.click("#vehicle-open")
            for ch in "京A12345":
                gate.click(f'.vehicle-key[data-char="{ch}"]')
            gate.click("#vehicle-check")
            said = gate.get_attribute("#vehicle-form", "data-offline-plate")
            assert said
            gate.wait_for_function(
                "said => document.querySelector('#vehicle-message').textContent === said", arg=said
            )
            assert unsent_count(gate) == 1
            gate.click("#vehicle-cancel")
            assert len(_car_crossings(site)) == before  # nothing reached the server

            context.set_offline(False)
            gate.evaluate("() => window.GateOffline.upload()")
            gate.wait_for_function("() => document.querySelector('#unsent').dataset.count === '0'")
            gate.evaluate("() => window.GateOffline.upload()")  # nothing left to send twice
            assert problems == []
        finally:
            browser.close()
    stored = _car_crossings(site)[before:]
    assert len(stored) == 1
    (car,) = stored
    assert (car.plate, car.household_id, car.offline, car.allowed) == (PLATE, None, True, True)
    assert car.direction.value == "out"
    assert car.flags == "vehicle_pass"
    with transaction(site.sessions, read_only=True) as session:
        vehicle = session.scalars(select(Vehicle).where(Vehicle.plate == PLATE)).one()
        assert car.subject_id == vehicle.id
