"""The phone gate as an offline web app, in Debian's Chromium driven by Playwright.

One story over the real app, as a phone on the compound's network reaches it:
``checkpoint serve --tls`` on a non-loopback address (an alias the test adds to ``lo`` and
removes; tests/e2e/tls_server.py), the local authority's key trusted by the browser (where the
alias cannot be added, not root, the app is served on 127.0.0.1 instead, also a secure
context). A volunteer's phone (360x640) opens /gate; the fake camera (a Y4M video of a
household's printed card) opens and the page's zxing-cpp WebAssembly decoder reads the card;
36.5 -> the server's green 通过. Then the network goes (``context.set_offline``): ten more
crossings of the same card (both directions, fever, a sensor error, quota) are decided on the
phone by the JavaScript decider and journaled in IndexedDB, each with the verdict the server
gives the same crossing (a twin of the database, copied when the network went, answers them
online); a reload in the middle, still offline, comes back from the service worker with the
unsent crossings kept. Back online, all ten are uploaded exactly once, stored as decided
offline without a conflict, and appear in the office's log. Screenshots at 360x640 and
390x844 (scan, green, red, offline) land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    Site,
    live_server,
    log_in,
    require_browser,
    seed_site,
)
from phone_gate_helpers import PHONE, Card, card_of_a_fresh_household, scan_once, unsent_count
from sqlalchemy import select
from tls_server import address_alias, tls_server

from gate.accounts.models import Role
from gate.app import create_app
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.settings import Settings

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
TALL_PHONE = {"width": 390, "height": 844}
OFFLINE_SCANS = [
    # (direction, temperature typed): the card's household went out online just before.
    ("in", "36.6"),
    ("out", "36.5"),  # quota: one outing per three days, used
    ("in", "38.2"),  # fever
    ("out", "33.0"),  # sensor error: re-measure
    ("in", "36.4"),  # an entry without an exit: allowed, noted
    ("out", "37.5"),  # fever
    ("in", "36.5"),
    ("out", "36.3"),  # quota
    ("in", "36.7"),
    ("out", "36.8"),  # quota
]
RELOAD_AFTER = 5


NOT_KEPT = """async () => {
  const base = new URL("/static/js/checkpoint/", location.origin);
  const listing = await (await fetch(new URL("files.json", base))).json();
  const cache = await caches.open("checkpoint-gate-v1");
  const missing = [];
  for (const file of listing.files) {
    if (!(await cache.match(new URL(file, base).href))) missing.push(file);
  }
  for (const path of ["/gate", "/static/vendor/zxing-wasm/zxing_reader.wasm"]) {
    if (!(await cache.match(new URL(path, location.origin).href))) missing.push(path);
  }
  return missing;
}"""


def _note_script_error(message: Any, problems: list[str]) -> None:
    # Requests that fail while offline are the point of the test, not a problem.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(message.text)


def shoot(page: Any, name: str) -> None:
    """Screenshots at both phone sizes; the page is left at 360x640."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"phone-gate-360x640-{name}.png")
    page.set_viewport_size(TALL_PHONE)
    page.screenshot(path=SCREENSHOTS / f"phone-gate-390x844-{name}.png")
    page.set_viewport_size(PHONE)


def fits_without_scrolling(page: Any) -> None:
    """Camera, direction, keypad with 确定, and the manual entry are all on screen."""
    for selector in (
        "#camera",
        ".dir-out",
        ".dir-in",
        '.key[data-key="ok"]',
        "#manual-open",
        '.key[data-key="1"]',
        "#net-status",
        "#unsent",
        "#bundle-age",
    ):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] >= 0, selector
        assert box["y"] + box["height"] <= PHONE["height"] + 0.5, selector
        assert box["x"] >= 0, selector
        assert box["x"] + box["width"] <= PHONE["width"] + 0.5, selector
    scroll = page.evaluate("document.scrollingElement.scrollHeight")
    assert scroll <= PHONE["height"], "the gate page scrolls"


def journal(page: Any) -> list[dict[str, Any]]:
    """Every crossing decided offline, as journaled in IndexedDB, in journal order."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => window.GateJournal.open().then(db => new Promise((ok, fail) => {
               const req = db.transaction(["crossings"]).objectStore("crossings").getAll();
               req.onsuccess = () => ok(req.result.filter(e => e.state !== "online")
                                           .sort((a, b) => a.created - b.created || a.seq - b.seq));
               req.onerror = () => fail(req.error);
           }))"""
    )


def twin_verdicts(site: Site, snapshot: Path, entries: list[dict[str, Any]]) -> list[Any]:
    """The verdicts the server gives the same crossings, online, in the same order: on a
    twin app over the database as it was when the network went."""
    settings = Settings.from_env(
        {
            "CHECKPOINT_ENV": "test",
            "CHECKPOINT_INSTANCE_DIR": str(snapshot.parent),
            "CHECKPOINT_DATABASE_URL": f"sqlite:///{snapshot}",
        }
    )
    twin = create_app(settings=settings)
    client = twin.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', login)
    assert token is not None
    client.post(
        "/login",
        data={
            "username": "volunteer",
            "password": site.passwords[Role.VOLUNTEER],
            "csrf_token": token.group(1),
        },
    )
    page = client.get("/gate")
    assert page.status_code == 200
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    assert token is not None
    verdicts = []
    for entry in entries:
        item = entry["item"]
        body = {
            "id": str(uuid.uuid4()),
            "pass": item["pass"],
            "direction": item["direction"],
            "temperature": item["temperature"],
        }
        answer = client.post("/gate/scan", json=body, headers={"X-CSRFToken": token.group(1)})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        verdict = answer.get_json()["verdict"]
        verdicts.append((verdict["allowed"], verdict["code"], verdict["codes"]))
    twin.extensions["checkpoint"].engine.dispose()
    return verdicts


@dataclass(frozen=True)
class Served:
    site: Site
    base: str
    card: Card
    trusted_spki: str | None
    """The local authority's key hash for Chromium when served with ``--tls``."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The demo compound behind ``checkpoint serve --tls`` on a non-loopback address (an
    alias added to ``lo`` for the test), as a phone on the compound's network reaches it; on
    a machine where the alias cannot be added (not root), in-process on 127.0.0.1 (also a
    secure context) instead."""
    site = seed_site(tmp_path)
    card = card_of_a_fresh_household(site, tmp_path)
    site.app.extensions["checkpoint"].engine.dispose()
    database = f"sqlite:///{tmp_path / 'browser.sqlite3'}"
    try:
        with (
            address_alias() as address,
            tls_server(tmp_path, host=address, database_url=database) as server,
        ):
            yield Served(site, server.url, card, server.spki_hash)
            return
    except pytest.skip.Exception as reason:
        print(f"phone gate story on http://127.0.0.1: {reason}")
    with live_server(site.app) as base:
        yield Served(site, base, card, None)


def launch_phone(playwright: Any, chromium: str, served: Served) -> Any:
    """Chromium with the card as its camera, trusting the local authority when over TLS."""
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={served.card.video}",
    ]
    if served.trusted_spki is not None:
        args.append(f"--ignore-certificate-errors-spki-list={served.trusted_spki}")
    return playwright.chromium.launch(executable_path=chromium, args=args)


def test_phone_gate_decides_offline_like_the_server_and_uploads_once(
    served: Served, tmp_path: Path
) -> None:
    site, base, card = served.site, served.base, served.card
    sync_api, chromium = require_browser()
    with sync_api.sync_playwright() as playwright:
        browser = launch_phone(playwright, chromium, served)
        try:
            context = browser.new_context(locale="zh-CN", viewport=PHONE, has_touch=True)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda message: _note_script_error(message, problems))
            log_in(page, base, "volunteer", site.passwords[Role.VOLUNTEER])
            page.goto(f"{base}/gate")
            online_scan(page, site, card)
            snapshot = installed_app_and_twin(page, site, tmp_path)

            context.set_offline(True)
            entries = offline_scans(page)
            offline_verdicts = [
                (e["verdict"]["allowed"], e["verdict"]["code"], list(e["verdict"]["codes"]))
                for e in entries
            ]
            twin = twin_verdicts(site, snapshot, entries)
            assert offline_verdicts == twin
            codes = {code for _allowed, code, _codes in offline_verdicts}
            assert {"quota", "fever", "sensor_error", None} <= codes, codes

            context.set_offline(False)
            uploaded_once(page, site, card, entries)
            in_the_office_log(browser, site, base, card)
            assert problems == []
        finally:
            browser.close()


def online_scan(page: Any, site: Site, card: Card) -> None:
    """The camera opens, zxing-wasm reads the card, the server decides: 通过."""
    page.wait_for_selector("#gate[data-camera='on']")
    page.locator("#prompt", has_text="请输入体温").wait_for()
    assert page.get_attribute("#gate", "data-decoder") == "zxing-wasm"
    fits_without_scrolling(page)
    shoot(page, "scan")
    first = scan_once(page, "out", "36.5")
    assert first["headline"] == "通过", first
    assert first["offline"] == "0", first
    with transaction(site.sessions) as session:
        stored = session.scalars(
            select(Crossing).where(Crossing.household_id == card.household_id)
        ).all()
    assert [(c.allowed, c.offline, c.direction) for c in stored] == [(True, False, "out")]
    shoot(page, "green")


def installed_app_and_twin(page: Any, site: Site, tmp_path: Path) -> Path:
    """The service worker keeps the page and its files, the bundle is kept (and refreshed
    after the online scan); the database is copied for the twin."""
    page.wait_for_selector("#gate[data-kept='1']")
    assert page.evaluate(NOT_KEPT) == []  # every file the decider may load, not only these
    page.wait_for_function(
        "() => { const s = window.GateOffline.status(); return s.hasBundle && !s.uploading; }"
    )
    page.wait_for_timeout(500)  # the bundle refresh after the online scan
    snapshot = tmp_path / "twin" / "twin.sqlite3"
    snapshot.parent.mkdir()
    live_db = site.app.extensions["checkpoint"].engine.url.database
    with sqlite3.connect(live_db) as source, sqlite3.connect(snapshot) as target:
        source.backup(target)
    return snapshot


def offline_scans(page: Any) -> list[dict[str, Any]]:
    """Ten crossings decided on the phone, each journaled before it shows; a reload in the
    middle comes back from the service worker with the unsent ones kept."""
    for index, (direction, temperature) in enumerate(OFFLINE_SCANS):
        if index == RELOAD_AFTER:
            page.reload()
            page.wait_for_selector("#gate[data-offline-ready='1']")
            assert unsent_count(page) == RELOAD_AFTER
            page.wait_for_selector("#gate[data-camera='on']")
        verdict = scan_once(page, direction, temperature)
        assert verdict["offline"] == "1", verdict
        assert unsent_count(page) == index + 1
        if index == 1:
            assert "verdict-refuse" in verdict["class"]
            shoot(page, "red-offline")
            page.click("#verdict-done")
            shoot(page, "offline")
    entries = journal(page)
    assert len(entries) == len(OFFLINE_SCANS)
    assert {e["state"] for e in entries} == {"unsent"}
    return entries


def uploaded_once(page: Any, site: Site, card: Card, entries: list[dict[str, Any]]) -> None:
    """Back online: all ten go up once, stored as decided offline, no conflict."""
    page.wait_for_function("() => document.querySelector('#unsent').dataset.count === '0'")
    page.evaluate("() => window.GateOffline.upload()")  # again: nothing left to send
    ids = [e["id"] for e in entries]
    with transaction(site.sessions) as session:
        rows = session.scalars(select(Crossing).where(Crossing.client_id.in_(ids))).all()
        by_id = {row.client_id: row for row in rows}
        total = session.scalars(
            select(Crossing).where(Crossing.household_id == card.household_id)
        ).all()
    assert len(rows) == len(ids)
    assert len(total) == 1 + len(ids)
    for entry in entries:
        row = by_id[entry["id"]]
        assert (row.offline, row.conflict, row.rejected) == (True, False, False), entry
        assert (row.allowed, row.code) == (entry["verdict"]["allowed"], entry["verdict"]["code"])
    assert {e["state"] for e in journal(page)} == {"sent"}
    assert page.locator("#dead-letters").is_hidden()


def in_the_office_log(browser: Any, site: Site, base: str, card: Card) -> None:
    office = browser.new_context(locale="zh-CN")
    try:
        page = office.new_page()
        log_in(page, base, "office", site.passwords[Role.OFFICE])
        page.goto(f"{base}/log?household={card.household_code}")
        assert page.locator("#crossings tbody tr").count() == 1 + len(OFFLINE_SCANS)
    finally:
        office.close()
