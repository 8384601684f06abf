"""Visitor passes and walk-ins at two phone gates without network, in Chromium (360x640): the
office issues a single-use visitor pass; both phones keep the bundle, then lose the network;
phone A lets the visitor in offline and refuses the pass the second time (its own journal);
phone B, offline too, lets the same pass in; phone A registers a delivery handed over
(无证人员) offline. Back online, everything is uploaded: two visitor crossings, the later
upload flagged a conflict (visitor_pass_used) in the office's conflict list, and the walk-in
stored at the phone's time, its phone number masked on the page."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import (
    SCREENSHOTS,
    launch,
    live_server,
    log_in,
    require_browser,
    seed_site,
    write_y4m,
)
from phone_gate_helpers import open_phone
from sqlalchemy import select

from gate.accounts.models import Role
from gate.community.models import Community
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.visitors.issuing import VisitorRequest, issue_visitor_pass
from gate.visitors.models import WalkIn
from passes import render_png

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
PURPOSE = "离线时送到的外卖"


def test_a_visitor_let_in_at_two_offline_phones_is_a_conflict_after_upload(
    tmp_path: Path,
) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    with transaction(site.sessions) as session:
        now = datetime.now(UTC)
        issued = issue_visitor_pass(
            session,
            community_id=session.scalars(select(Community.id)).one(),
            request=VisitorRequest(
                kind="visitor",
                name="钱访客",
                purpose="送药",
                valid_from=now,
                valid_until=now + timedelta(hours=6),
                single_use=True,
                phone="13722223333",
                plate=None,
            ),
            actor="office",
            now=now,
        )
        text = issued.text
    video = tmp_path / "visitor.y4m"
    write_y4m(render_png(text), video)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium, fake_video=video)
        try:
            phones = [_phone(browser, base, site) for _ in range(2)]
            for context, _page, _problems in phones:
                context.set_offline(True)
            (_, a, problems_a), (_, b, problems_b) = phones

            first = _enter(a)
            assert (first["headline"], first["offline"]) == ("通过", "1"), first
            a.screenshot(path=SCREENSHOTS / "phone-gate-360x640-visitor-offline.png")
            second = _enter(a)
            assert second["reason"] == "访客通行证已使用（仅限一次）", second
            elsewhere = _enter(b)
            assert (elsewhere["headline"], elsewhere["offline"]) == ("通过", "1"), elsewhere

            a.click("#verdict-done")
            a.click("#walkin-open")
            a.click('.walkin-kind[data-kind="delivery"]')
            a.fill("#walkin-phone", "13655556666")
            a.fill("#walkin-purpose", PURPOSE)
            a.click("#walkin-hand-over")
            a.wait_for_selector("#verdict:not([hidden])")
            assert a.get_attribute("#verdict", "data-offline") == "1"
            assert a.text_content("#verdict-headline") == "禁止"

            for context, page, _problems in phones:
                context.set_offline(False)
                page.wait_for_function(
                    "() => document.querySelector('#unsent').dataset.count === '0'"
                )
            a.evaluate("() => window.GateWalkIns.flush()")
            _wait_walk_in(site)
            assert problems_a == []
            assert problems_b == []

            office = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            office.set_default_timeout(TIMEOUT_MS)
            page = office.new_page()
            log_in(page, base, "office", site.passwords[Role.OFFICE])
            page.goto(f"{base}/log/conflicts")
            assert "访客通行证已使用（仅限一次）" in page.inner_text("main")
            page.screenshot(path=SCREENSHOTS / "visitors-offline-conflict.png", full_page=True)
            page.goto(f"{base}/visitors")
            assert "13655556666" not in page.content()
        finally:
            browser.close()

    with transaction(site.sessions, read_only=True) as session:
        rows = session.scalars(
            select(Crossing).where(Crossing.subject == "visitor").order_by(Crossing.id)
        ).all()
        walk_in = session.scalars(select(WalkIn).where(WalkIn.purpose == PURPOSE)).one()
        walk_in_crossing = session.get(Crossing, walk_in.crossing_id)
    assert [(r.allowed, r.offline) for r in rows].count((True, True)) == 2
    assert [r.conflict_code for r in rows if r.conflict] == ["visitor_pass_used"]
    assert [(r.allowed, r.code) for r in rows if not r.allowed] == [(False, "visitor_pass_used")]
    assert walk_in.phone == "13655556666"
    assert walk_in_crossing is not None
    assert (walk_in_crossing.offline, walk_in_crossing.subject) == (True, "delivery")


def _phone(browser: Any, base: str, site: Any) -> tuple[Any, Any, list[str]]:
    """A volunteer's phone at the gate, its files and bundle kept for offline use."""
    phone = open_phone(browser, base, "volunteer", site.passwords[Role.VOLUNTEER])
    return phone.context, phone.page, phone.problems


def _wait_walk_in(site: Any) -> None:
    for _ in range(100):
        with transaction(site.sessions, read_only=True) as session:
            if session.scalars(select(WalkIn).where(WalkIn.purpose == PURPOSE)).first():
                return
        time.sleep(0.1)
    raise AssertionError("the walk-in kept offline was not sent")


def _enter(page: Any) -> dict[str, str]:
    """下一位, direction in, 36 typed; the pass is in front of the camera: the verdict."""
    if page.locator("#verdict").is_visible():
        page.click("#verdict-done")
    page.click('.dir-button[data-direction="in"]')
    page.click('.key[data-key="clear"]')
    for key in "36":
        page.click(f'.key[data-key="{key}"]')
    try:
        page.wait_for_selector("#verdict:not([hidden])", timeout=3000)
    except Exception:  # the camera did not present it again: press 确定
        page.click('.key[data-key="ok"]')
        page.wait_for_selector("#verdict:not([hidden])")
    return {
        "headline": page.text_content("#verdict-headline") or "",
        "reason": page.text_content("#verdict-reason") or "",
        "offline": page.get_attribute("#verdict", "data-offline") or "",
    }
