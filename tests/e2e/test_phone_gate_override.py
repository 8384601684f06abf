"""The phone gate offline with a supervisor, and a crossing the server refuses, in Chromium.

A supervisor's phone (the app served on 127.0.0.1) goes offline: the card's household goes
out (通过, decided on the phone), the same card again is refused (already out) and the
supervisor lets it through with a reason (the override, decided on the phone as the scanner
does). A journaled crossing the server cannot read (a damaged item) is uploaded with them.
Back online: the override is stored as decided, flagged ``override_unverified`` for the
office (the server cannot check a login made offline), and the damaged item is kept by the
server as rejected and shown on the page as a dead letter, never deleted from the phone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import SCREENSHOTS, launch, live_server, log_in, require_browser, seed_site
from phone_gate_helpers import PHONE, card_of_a_fresh_household, scan_once, unsent_count
from sqlalchemy import select

from gate.accounts.models import Role
from gate.community.models import Community
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.supervisors.operations import issue_supervisor_card

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000

DAMAGED = """([id, other]) => window.GateJournal.add({
  id, gate_id: parseInt(document.querySelector("#gate").dataset.gateId, 10),
  user_id: parseInt(document.querySelector("#gate").dataset.userId, 10) + other,
  household_id: null, state: "unsent", seq: 0,
  created: window.GateJournal.stamp(), scanned: Date.now(),
  verdict: {allowed: true, code: null, codes: [], notes: [], rule_version: 1},
  item: {format: "checkpoint.crossing.v1", id, pass: "CP1:DAMAGED", direction: "sideways",
         temperature: 365, scanned_at: new Date().toISOString().replace(/\\.\\d{3}Z$/, "Z"),
         operator: null, override: null, latency_ms: null,
         verdict: {allowed: true, code: null, codes: [], notes: [], rule_version: 1}}
})"""


def test_a_supervisor_overrides_offline_and_a_refused_upload_is_shown(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path)
    card = card_of_a_fresh_household(site, tmp_path)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium, fake_video=card.video)
        try:
            context = browser.new_context(locale="zh-CN", viewport=PHONE)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            log_in(page, base, "supervisor", site.passwords[Role.SUPERVISOR])
            page.goto(f"{base}/gate")
            page.wait_for_selector("#gate[data-kept='1'][data-offline-ready='1']")

            context.set_offline(True)
            assert scan_once(page, "out", "36.5")["headline"] == "通过"
            refused = scan_once(page, "out", "36.5")
            assert refused["offline"] == "1"
            assert "verdict-refuse" in refused["class"]
            override_offline(page)
            damaged, foreign = str(uuid.uuid4()), str(uuid.uuid4())
            page.evaluate(DAMAGED, [damaged, 0])
            # Left on this phone by another volunteer: it waits for them to log in again
            # (the server would record the uploader as the one who let it through).
            page.evaluate(DAMAGED, [foreign, 1000])
            assert unsent_count(page) in (3, 2)  # the count refreshes on the next change

            context.set_offline(False)
            page.wait_for_selector("#dead-letters:not([hidden])")
            assert "1 条记录被服务器拒收" in page.inner_text("#dead-letters")
            page.wait_for_function("() => document.querySelector('#unsent').dataset.count === '0'")
            page.click("#verdict-done")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "phone-gate-360x640-dead-letter.png")
            states = page.evaluate(
                "() => window.GateJournal.all().then(all => all.map(e => [e.id, e.state]))"
            )
            assert dict(states)[damaged] == "dead"
            assert dict(states)[foreign] == "unsent"
            assert sorted(state for _id, state in states) == [
                "dead",
                "sent",
                "sent",
                "sent",
                "unsent",
            ]
            assert problems == []
        finally:
            browser.close()
    with transaction(site.sessions) as session:
        rows = session.scalars(
            select(Crossing)
            .where(Crossing.household_id == card.household_id)
            .order_by(Crossing.scanned_at, Crossing.id)
        ).all()
        kept = session.scalars(select(Crossing).where(Crossing.client_id == damaged)).one()
        never = session.scalars(select(Crossing).where(Crossing.client_id == foreign)).all()
    assert never == []
    # Out, refused (already out), let through by the supervisor: all as decided offline.
    assert [(row.allowed, row.code, row.offline) for row in rows] == [
        (True, None, True),
        (False, "already_out", True),
        (True, "already_out", True),
    ]
    assert "override_unverified" in rows[2].flags.split()
    assert rows[2].override_reason == "就医，已电话确认"
    assert kept.rejected


def override_offline(page: Any) -> None:
    """The supervisor lets the refused crossing through with a reason: a new crossing,
    decided on the phone with the override."""
    page.click("#override-open")
    page.fill("#override-reason", "就医，已电话确认")
    page.click("#override-form button[type=submit]")
    page.wait_for_selector("#verdict.verdict-allow")
    assert page.get_attribute("#verdict", "data-offline") == "1"
    assert page.text_content("#verdict-reason") == "值班负责人放行"


def test_a_volunteer_lets_a_refusal_through_offline_with_a_supervisors_card(
    tmp_path: Path,
) -> None:
    """Offline, a volunteer's phone checks a supervisor's card against the bundle (as the
    scanner does); the server checks it again on upload and names the holder."""
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path)
    card = card_of_a_fresh_household(site, tmp_path)
    with transaction(site.sessions) as session:
        community_id = session.scalars(select(Community.id)).one()
        supervisor_card = issue_supervisor_card(
            session,
            community_id=community_id,
            username="supervisor",
            actor="test",
            now=datetime.now(UTC),
        ).text
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium, fake_video=card.video)
        try:
            context = browser.new_context(locale="zh-CN", viewport=PHONE)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            log_in(page, base, "volunteer", site.passwords[Role.VOLUNTEER])
            page.goto(f"{base}/gate")
            page.wait_for_selector("#gate[data-kept='1'][data-offline-ready='1']")

            context.set_offline(True)
            assert scan_once(page, "out", "36.5")["headline"] == "通过"
            assert "verdict-refuse" in scan_once(page, "out", "36.5")["class"]
            assert page.is_hidden("#override-open")  # a volunteer has no login to override
            assert page.is_visible("#override-hint")
            page.evaluate("(text) => window.GatePage.codeRead(text)", supervisor_card)
            page.wait_for_selector("#override-card:not([hidden])")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "phone-gate-360x640-card-override.png")
            page.fill("#override-reason", "就医，已电话确认")
            page.click("#override-form button[type=submit]")
            page.wait_for_selector("#verdict.verdict-allow")
            assert page.get_attribute("#verdict", "data-offline") == "1"

            context.set_offline(False)
            page.wait_for_function("() => document.querySelector('#unsent').dataset.count === '0'")
            assert page.is_hidden("#dead-letters")
            assert problems == []
        finally:
            browser.close()
    with transaction(site.sessions) as session:
        rows = session.scalars(
            select(Crossing)
            .where(Crossing.household_id == card.household_id)
            .order_by(Crossing.scanned_at, Crossing.id)
        ).all()
    let_through = rows[-1]
    assert (let_through.allowed, let_through.code, let_through.offline) == (
        True,
        "already_out",
        True,
    )
    assert let_through.override_card_id is not None  # checked again by the server
    assert "override_unverified" not in let_through.flags.split()
