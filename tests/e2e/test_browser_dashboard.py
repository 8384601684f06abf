"""The office overview in a real browser (Debian's Chromium driven by Playwright).

Issue #12: with 150 households out, the 在外 table scrolls inside its card instead of making
the page thousands of pixels tall; the page refreshes itself every 60 s (static/js/dashboard.js,
no inline script under the CSP) with fresh data, keeping the window's and the table's scroll
positions. Playwright's fake clock runs the 60 s at once. A screenshot lands in
``test-artifacts/screenshots/dashboard-scroll.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_helpers import SCREENSHOTS, launch, live_server, log_in, require_browser, seed_site
from sqlalchemy import select

from gate.accounts.models import Role
from gate.db import transaction
from gate.households.decision_state import state_columns
from gate.households.models import Household
from passes import HouseholdState

pytestmark = pytest.mark.browser

HOUSEHOLDS = 150
TIMEOUT_MS = 10_000


def test_the_dashboard_scrolls_its_tables_and_refreshes_in_place(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=HOUSEHOLDS)
    since = datetime.now(UTC) - timedelta(hours=1)
    out = 0  # every household of the demo (HOUSEHOLDS, plus those its zones add)
    with transaction(site.sessions) as session:
        for row in session.scalars(select(Household)):
            out += 1
            state = HouseholdState(household_id=row.id, out_since=(since,))
            for name, value in state_columns(state).items():
                setattr(row, name, value)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(  # CSP refusals and script errors; not the favicon's 404
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            page.clock.install()
            log_in(page, base, "office", site.passwords[Role.OFFICE])
            page.goto(f"{base}/")
            rows = page.locator("#out-now tbody tr")
            assert rows.count() == out >= HOUSEHOLDS
            box = page.locator("#out-now .table-scroll")
            sizes = box.evaluate("b => [b.scrollHeight, b.clientHeight]")
            assert sizes[0] > sizes[1] * 2  # the table is long, its box is not
            card_height = page.locator("#out-now").evaluate("c => c.offsetHeight")
            assert card_height < 700
            assert page.evaluate("document.documentElement.scrollHeight") < 3000
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "dashboard-scroll.png"), full_page=True)

            box.evaluate("b => { b.scrollTop = 1000; }")
            page.evaluate("window.scrollTo(0, 400)")
            inner = box.evaluate("b => b.scrollTop")
            outer = page.evaluate("window.scrollY")
            assert inner > 0
            assert outer > 0
            with transaction(site.sessions) as session:  # one household came back
                first = session.scalars(select(Household).order_by(Household.id)).first()
                assert first is not None
                for name, value in state_columns(HouseholdState(first.id)).items():
                    setattr(first, name, value)
            with page.expect_response(lambda r: r.url.rstrip("/") == base) as answer:
                page.clock.run_for(61_000)
            assert answer.value.status == 200
            sync_api.expect(page.locator("#out-now tbody tr")).to_have_count(
                out - 1, timeout=TIMEOUT_MS
            )
            assert page.url.rstrip("/") == base  # swapped in place, not reloaded
            assert page.locator("#out-now .table-scroll").evaluate("b => b.scrollTop") == inner
            assert page.evaluate("window.scrollY") == outer
            assert not errors, errors
        finally:
            browser.close()
