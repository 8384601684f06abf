"""The phone gate's browser tests' shared steps: a household's printed card as a fake
camera's video, one scan at the gate page, the page's unsent count."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browser_helpers import Site, log_in, write_y4m
from sqlalchemy import select

from gate.community.models import Community
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.households.models import Household
from gate.issuing.cards import CardBuilder
from gate.issuing.operations import current_pass
from gate.issuing.printing import render_card_png
from passes import HouseholdStatus

PHONE = {"width": 360, "height": 640}
TIMEOUT_MS = 20_000
READY = "() => { const s = window.GateOffline.status(); return s.hasBundle && !s.uploading; }"
"""The phone gate has its bundle kept and is not uploading: ready to go offline."""


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
    """The printed card (as a fake camera's video) of a normal household not out, that has
    not gone out today."""
    with transaction(site.sessions) as session:
        community = session.scalars(select(Community)).one()
        crossed = set(session.scalars(select(Crossing.household_id).distinct()))
        for household in session.scalars(select(Household).order_by(Household.id)):
            record = current_pass(session, household)
            fresh = household.id not in crossed
            if household.status is HouseholdStatus.NORMAL and record and fresh:
                png = render_card_png(CardBuilder(session, community).card(household, record))
                video = directory / "card.y4m"
                write_y4m(png, video)
                return Card(household.code, household.id, video)
    raise AssertionError("the demo has no household without crossings")


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
