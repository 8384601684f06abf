"""What the volunteer sees on the phone gate page (Chromium, 360x640, Chinese), for the
field tester's findings:

- the verdict shows what was recorded (the direction highlighted, the temperature as the
  scanner's window shows it, none for a re-measure) and the next outing only under an
  allowed exit (not under a fever or quota refusal);
- an old card after a reissue (superseded) says the next step: the office;
- a mistyped card code is said at once (the server knows the codes), kept for correcting,
  before any temperature is asked for; half a temperature and 确定 says what is missing;
- every button on the page's states reads at >= 4.5:1;
- the override form with the on-screen keyboard open (360x330): 放行 is reachable, preset
  reasons fill the reason, an empty reason is said, the card hint goes once a logged-in
  supervisor pressed 值班负责人放行;
- the gate chooser: nothing preselected with two gates, GET /gate/choose, 切换出入口.

Texts the page has from its own strings are compared with those strings (the Chinese of new
messages comes with the translators' next round), the server's words as they are.
Screenshots land in test-artifacts/screenshots/phone-gate-360x640-*.png."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from browser_helpers import (
    SCREENSHOTS,
    Site,
    launch,
    live_server,
    log_in,
    require_browser,
    seed_site,
)
from phone_gate_helpers import PHONE, TIMEOUT_MS
from sqlalchemy import select

from gate.accounts.models import Role
from gate.community.models import Building, Community
from gate.db import transaction
from gate.devices.models import Gate
from gate.households.models import Household, Member
from gate.issuing.operations import issue_pass

pytestmark = pytest.mark.browser

HOUSEHOLD_ID = 3_900_000_919
"""Below the sealed 7号楼's ids (gate/zones/demo.py), above the demo's own."""

CONTRAST = """() => {
  function rgba(text) {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) { return [0, 0, 0, 0]; }
    const p = m[1].split(",").map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function over(top, under) {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
  }
  function background(node) {
    const layers = [];
    for (let at = node; at && at.nodeType === 1; at = at.parentElement) {
      layers.push(rgba(getComputedStyle(at).backgroundColor));
    }
    let colour = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i -= 1) { colour = over(layers[i], colour); }
    return colour;
  }
  function luminance(c) {
    const v = c.slice(0, 3).map(x => {
      x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  const found = [];
  document.querySelectorAll("button, a.big-button, a.gate-switch").forEach(b => {
    const box = b.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(b).visibility === "hidden") { return; }
    const bg = background(b);
    const ink = over(rgba(getComputedStyle(b).color), bg);
    const [l1, l2] = [luminance(ink), luminance(bg)].sort((x, y) => y - x);
    found.push([b.id || b.textContent.trim(), Math.round((l1 + 0.05) / (l2 + 0.05) * 100) / 100]);
  });
  return found;
}"""


@dataclass(frozen=True)
class Card:
    text: str
    manual_code: str


def _household(site: Site) -> tuple[Household, Any]:
    with transaction(site.sessions) as session:
        community = session.scalars(select(Community)).one()
        building = session.scalars(select(Building).order_by(Building.id)).first()
        assert building is not None
        household = Household(
            id=HOUSEHOLD_ID,
            community_id=community.id,
            building_id=building.id,
            code=f"{building.code}-9-919",
            unit="9",
            room="919",
        )
        household.members.append(Member(name="林晓西", is_head=True))
        session.add(household)
        session.flush()
        issued = issue_pass(session, household, actor="test", now=datetime.now(UTC))
        assert issued.record.manual_code is not None
        return household, Card(issued.text, issued.record.manual_code)


def _reissue(site: Site) -> Card:
    with transaction(site.sessions) as session:
        household = session.get_one(Household, HOUSEHOLD_ID)
        issued = issue_pass(session, household, actor="test", now=datetime.now(UTC), reissue=True)
        assert issued.record.manual_code is not None
        return Card(issued.text, issued.record.manual_code)


def _string(page: Any, name: str) -> str:
    return str(page.evaluate("(name) => document.getElementById('strings').dataset[name]", name))


def _shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"phone-gate-360x640-{name}.png")


def _open(browser: Any, base: str, username: str, password: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(locale="zh-CN", viewport=PHONE, timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, base, username, password)
    page.goto(f"{base}/gate")
    page.wait_for_selector("#gate[data-offline-ready='1']")
    return context, page, problems


def _type_temperature(page: Any, temperature: str) -> None:
    page.click('.key[data-key="clear"]')
    for key in temperature:
        page.click(f'.key[data-key="{key}"]')


def _present(page: Any, text: str, direction: str, temperature: str) -> dict[str, str]:
    """下一位 if a verdict is up, direction, temperature, then the card is read; the verdict."""
    if page.locator("#verdict").is_visible():
        page.click("#verdict-done")
    page.click(f'.dir-button[data-direction="{direction}"]')
    _type_temperature(page, temperature)
    page.click('.key[data-key="ok"]')
    page.evaluate("(text) => window.GatePage.codeRead(text)", text)
    page.wait_for_selector("#verdict:not([hidden])")
    return {
        name: page.inner_text(f"#verdict-{name}") if page.is_visible(f"#verdict-{name}") else ""
        for name in ("headline", "reason", "next", "direction", "temperature")
    } | {"class": page.get_attribute("#verdict", "class") or ""}


def _low_contrast(page: Any) -> list[tuple[str, float]]:
    return [(name, ratio) for name, ratio in page.evaluate(CONTRAST) if ratio < 4.5]


def test_verdicts_say_what_was_recorded_and_only_what_applies(tmp_path: Any) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    _household_row, card = _household(site)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            _context, page, problems = _open(
                browser, base, "volunteer", site.passwords[Role.VOLUNTEER]
            )
            assert _low_contrast(page) == []
            out, into = _string(page, "dirOut"), _string(page, "dirIn")

            allowed = _present(page, card.text, "out", "365")
            assert "verdict-allow" in allowed["class"]
            assert (allowed["direction"], allowed["temperature"]) == (out, "36.5°C")
            assert allowed["next"].startswith(_string(page, "nextExit").split("{")[0])
            assert page.is_visible("#verdict-direction.verdict-dir-out")
            _shoot(page, "allow-recorded")

            back = _present(page, card.text, "in", "366")
            assert (back["direction"], back["temperature"], back["next"]) == (into, "36.6°C", "")

            fever = _present(page, card.text, "out", "382")
            assert "verdict-refuse" in fever["class"]
            assert (fever["direction"], fever["temperature"], fever["next"]) == (
                out,
                "38.2°C",
                "",
            )
            _shoot(page, "fever")

            quota = _present(page, card.text, "out", "365")
            assert "verdict-refuse" in quota["class"]
            assert quota["next"] == ""  # the reason says when, once
            _shoot(page, "quota")
            assert _low_contrast(page) == []

            remeasure = _present(page, card.text, "in", "330")
            assert "verdict-remeasure" in remeasure["class"]
            assert (remeasure["direction"], remeasure["temperature"]) == (into, "")

            new_card = _reissue(site)
            old = _present(page, card.text, "in", "365")
            assert "verdict-refuse" in old["class"]
            assert old["next"] == _string(page, "newPass")
            assert page.is_hidden("#override-box")  # a replaced pass is never overridden
            _shoot(page, "superseded")

            # Half a temperature and 确定: said, not ignored.
            page.click("#verdict-done")
            _type_temperature(page, "3")
            page.click('.key[data-key="ok"]')
            assert page.inner_text("#prompt") == _string(page, "incompleteTemperature")
            _shoot(page, "temperature-incomplete")
            page.click('.key[data-key="clear"]')

            # A mistyped card code is said at once and kept; the right one asks for 体温.
            page.click("#manual-open")
            wrong = new_card.manual_code[:-1] + ("A" if new_card.manual_code[-1] != "A" else "B")
            page.fill("#manual-code", wrong)
            page.click("#manual-submit")
            page.wait_for_function(  # after 正在核验…, the server's answer
                "(text) => document.getElementById('manual-message').textContent === text",
                arg=_string(page, "wrongCode"),
            )
            assert page.is_visible("#manual-message")
            assert page.input_value("#manual-code") == wrong
            assert page.inner_text("#prompt") != _string(page, "enterTemperature")
            assert page.is_hidden("#verdict")
            _shoot(page, "manual-wrong-code")
            assert _low_contrast(page) == []
            page.fill("#manual-code", new_card.manual_code)
            page.click("#manual-submit")
            page.wait_for_selector("#manual-form", state="hidden")
            assert page.inner_text("#prompt") == _string(page, "enterTemperature")
            _type_temperature(page, "365")
            page.click('.key[data-key="ok"]')
            page.wait_for_selector("#verdict:not([hidden])")
            assert "verdict-allow" in (page.get_attribute("#verdict", "class") or "")
            assert problems == []
        finally:
            browser.close()


def test_the_override_form_works_with_the_keyboard_open(tmp_path: Any) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    _household_row, card = _household(site)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            _context, page, problems = _open(
                browser, base, "supervisor", site.passwords[Role.SUPERVISOR]
            )
            assert "verdict-allow" in _present(page, card.text, "out", "365")["class"]
            assert "verdict-refuse" in _present(page, card.text, "out", "365")["class"]
            assert page.is_visible("#override-hint")
            page.click("#override-open")
            assert page.is_hidden("#override-hint")  # the supervisor is logged in here
            page.set_viewport_size({"width": 360, "height": 330})  # the keyboard is up
            page.focus("#override-reason")
            page.wait_for_timeout(500)
            submit = "#override-form button[type=submit]"
            hit = page.evaluate(
                """(selector) => {
                  const b = document.querySelector(selector).getBoundingClientRect();
                  const at = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
                  return at === document.querySelector(selector);
                }""",
                submit,
            )
            assert hit, "something covers 放行 with the keyboard open"
            _shoot(page, "override-keyboard")
            page.click(submit)
            assert page.is_visible("#override-message")
            assert "verdict-refuse" in (page.get_attribute("#verdict", "class") or "")
            page.set_viewport_size(PHONE)
            page.click('.override-preset[data-reason="就医"]')
            assert page.input_value("#override-reason") == "就医"
            _shoot(page, "override-presets")
            assert _low_contrast(page) == []
            page.click(submit)
            page.wait_for_selector("#verdict.verdict-allow")
            assert page.is_visible("#verdict-done")
            assert problems == []
        finally:
            browser.close()


def test_the_gate_is_chosen_explicitly_and_can_be_switched(tmp_path: Any) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    with transaction(site.sessions) as session:
        community = session.scalars(select(Community)).one()
        session.add(Gate(community_id=community.id, name="北门", code="north"))
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(locale="zh-CN", viewport=PHONE)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            log_in(page, base, "volunteer", site.passwords[Role.VOLUNTEER])
            page.goto(f"{base}/gate")
            choices = page.locator("button.gate-choice")
            assert choices.count() == 2
            assert page.locator("button.gate-choice.is-current").count() == 0
            assert page.locator("select").count() == 0  # nothing preselected
            _shoot(page, "choose")
            page.click("button.gate-choice:has-text('北门')")
            page.wait_for_selector("#gate")
            assert "北门" in page.inner_text(".gate-place")
            page.click("#gate-switch")
            page.wait_for_url(lambda url: url.endswith("/gate/choose"))
            assert page.inner_text("button.gate-choice.is-current").startswith("北门")
            _shoot(page, "choose-switch")
            page.click("button.gate-choice:not(.is-current)")
            page.wait_for_selector("#gate")
            assert "北门" not in page.inner_text(".gate-place")
        finally:
            browser.close()
