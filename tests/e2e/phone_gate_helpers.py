"""The phone gate's browser tests' shared steps: a household's printed card as a fake
camera's video, one scan at the gate page, the page's unsent count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from browser_helpers import Site, log_in, write_y4m
from sqlalchemy import select

from gate.community.models import Building, Community
from gate.db import transaction
from gate.households.models import Household, Member
from gate.issuing.cards import CardBuilder
from gate.issuing.operations import issue_pass
from gate.issuing.printing import render_card_png

PHONE = {"width": 360, "height": 640}
TIMEOUT_MS = 20_000
READY = "() => { const s = window.GateOffline.status(); return s.hasBundle && !s.uploading; }"
"""The phone gate has its bundle kept and is not uploading: ready to go offline."""
FRESH_HOUSEHOLD_ID = 3_900_000_909
"""Below the sealed 7号楼's ids (gate/zones/demo.py), above the demo's own."""


@dataclass
class Phone:
    """A phone's browser context at the gate page, and the page's script errors."""

    context: Any
    page: Any
    problems: list[str]

    def reopen(self) -> Any:
        """A new page in the same phone (its journal and kept files stay), watched as the
        first was."""
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        return self.page


def open_phone(browser: Any, base: str, username: str, password: str) -> Phone:
    """A phone (360x640, Chinese) logged in as ``username`` at the gate page, its files and
    bundle kept for offline use."""
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    phone = Phone(context, None, [])
    page = phone.reopen()
    log_in(page, base, username, password)
    page.goto(f"{base}/gate")
    page.wait_for_selector("#gate[data-kept='1']")
    page.wait_for_function(READY)
    return phone


@dataclass(frozen=True)
class Card:
    household_code: str
    household_id: int
    video: Path


def card_of_a_fresh_household(site: Site, directory: Path) -> Card:
    """The printed card (as a fake camera's video) of a household registered now, in the
    demo's first building: normal, never out, its pass issued now. (The demo's own
    households are chosen at random: on some days every normal one outside the sealed
    building has already crossed.)"""
    with transaction(site.sessions) as session:
        community = session.scalars(select(Community)).one()
        building = session.scalars(select(Building).order_by(Building.id)).first()
        assert building is not None, "the demo has no building"
        household = Household(
            id=FRESH_HOUSEHOLD_ID,
            community_id=community.id,
            building_id=building.id,
            code=f"{building.code}-9-909",
            unit="9",
            room="909",
        )
        household.members.append(Member(name="林晓东", is_head=True))
        session.add(household)
        session.flush()
        issued = issue_pass(session, household, actor="test", now=datetime.now(UTC))
        png = render_card_png(CardBuilder(session, community).card(household, issued.record))
        video = directory / "card.y4m"
        write_y4m(png, video)
        return Card(household.code, household.id, video)


def scan_once(page: Any, direction: str, temperature: str) -> dict[str, str]:
    """The card is in front of the camera: 下一位 if a verdict is up, direction, temperature,
    确定; the verdict as shown."""
    if page.locator("#verdict").is_visible():
        page.click("#verdict-done")
    page.locator("#prompt", has_text="请输入体温").wait_for()
    page.click(f'.dir-button[data-direction="{direction}"]')
    page.click('.key[data-key="clear"]')
    for key in temperature:
        page.click(f'.key[data-key="{key}"]')
    page.click('.key[data-key="ok"]')
    page.wait_for_selector("#verdict:not([hidden])")
    return {
        "headline": page.text_content("#verdict-headline") or "",
        "reason": page.text_content("#verdict-reason") or "",
        "class": page.get_attribute("#verdict", "class") or "",
        "offline": page.get_attribute("#verdict", "data-offline") or "",
    }


def unsent_count(page: Any) -> int:
    return int(page.get_attribute("#unsent", "data-count") or "-1")
