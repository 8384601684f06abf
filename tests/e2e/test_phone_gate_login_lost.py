"""The phone gate after its login is gone, in Chromium (360x640): the browser restarted
(cookies cleared) with no network, the page opens from the service worker and the volunteer
scans (journaled on the phone). The network returns: the server no longer knows the login
(the bundle answers 401, the upload 401), so the page says so in a persistent banner with
a 重新登录 button, the status bar no longer calls its data fresh, and a scan meanwhile is still
decided and journaled on the phone. After logging in again the journal uploads, every
crossing stored under the volunteer who made it."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import SCREENSHOTS, launch, live_server, require_browser, seed_site
from phone_gate_helpers import card_of_a_fresh_household, open_phone, scan_once, unsent_count
from sqlalchemy import select

from gate.accounts.models import Role, User
from gate.crossings.models import Crossing
from gate.db import transaction

pytestmark = pytest.mark.browser


def test_a_lost_login_is_shown_and_the_journal_uploads_after_logging_in_again(
    tmp_path: Path,
) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    card = card_of_a_fresh_household(site, tmp_path)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium, fake_video=card.video)
        try:
            phone = open_phone(browser, base, "volunteer", site.passwords[Role.VOLUNTEER])
            context = phone.context
            context.set_offline(True)
            phone.page.close()
            context.clear_cookies()  # the browser restarted: the login session is gone
            page = phone.reopen()
            page.goto(f"{base}/gate")  # from the service worker
            page.wait_for_selector("#gate[data-offline-ready='1']")
            first = scan_once(page, "out", "36.5")
            assert (first["headline"], first["offline"]) == ("通过", "1")
            page.click("#verdict-done")

            context.set_offline(False)
            page.wait_for_selector("#login-lost:not([hidden])")
            page.wait_for_selector("#bundle-age.is-stale[data-failed='1']")
            assert unsent_count(page) == 1
            assert "1" in page.inner_text("#login-lost-text")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "phone-gate-360x640-login-lost.png")

            # Online without a login: the server says 401, the phone decides and journals.
            back = scan_once(page, "in", "36.5")
            assert (back["headline"], back["offline"]) == ("通过", "1")
            page.click("#verdict-done")
            page.wait_for_function("() => document.querySelector('#unsent').dataset.count === '2'")
            assert page.is_visible("#login-lost")
            assert "2" in page.inner_text("#login-lost-text")

            page.click("#login-lost-go")
            page.wait_for_url(lambda url: "/login" in url)
            page.fill("input[name=username]", "volunteer")
            page.fill("input[name=password]", site.passwords[Role.VOLUNTEER])
            page.press("input[name=password]", "Enter")
            page.wait_for_url(lambda url: url.endswith("/gate"))
            page.wait_for_function("() => document.querySelector('#unsent').dataset.count === '0'")
            assert page.is_hidden("#login-lost")
            page.wait_for_selector("#bundle-age[data-failed='0']:not(.is-stale)")
            page.screenshot(path=SCREENSHOTS / "phone-gate-360x640-login-again.png")
            assert phone.problems == []
        finally:
            browser.close()
    with transaction(site.sessions, read_only=True) as session:
        volunteer = session.scalars(select(User.id).where(User.username == "volunteer")).one()
        rows = session.scalars(
            select(Crossing)
            .where(Crossing.household_id == card.household_id)
            .order_by(Crossing.scanned_at)
        ).all()
        assert [(row.direction, row.allowed, row.offline, row.user_id) for row in rows] == [
            ("out", True, True, volunteer),
            ("in", True, True, volunteer),
        ]
