"""A walk-in registered offline belongs to the volunteer who registered it: in Chromium
(360x640), the volunteer registers a delivery with no network and leaves; the supervisor logs
in on the same phone with the network back and nothing is sent under the supervisor's name;
when the volunteer logs in again the registration is sent and stored under the volunteer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser_helpers import launch, live_server, log_in, require_browser, seed_site
from phone_gate_helpers import READY, open_phone
from sqlalchemy import select

from gate.accounts.models import Role, User
from gate.db import transaction
from gate.visitors.models import WalkIn

pytestmark = pytest.mark.browser

PURPOSE = "离线登记的快递"


def _walk_in(site: object) -> WalkIn | None:
    with transaction(site.sessions, read_only=True) as session:  # type: ignore[attr-defined]
        found = session.scalars(select(WalkIn).where(WalkIn.purpose == PURPOSE)).first()
        if found is not None:
            session.expunge(found)
        return found


def _user_id(site: object, username: str) -> int:
    with transaction(site.sessions, read_only=True) as session:  # type: ignore[attr-defined]
        return session.scalars(select(User.id).where(User.username == username)).one()


def test_an_offline_walk_in_is_sent_only_under_the_volunteer_who_made_it(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=6)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            phone = open_phone(browser, base, "volunteer", site.passwords[Role.VOLUNTEER])
            context, page = phone.context, phone.page
            context.set_offline(True)
            page.click("#walkin-open")
            page.click('.walkin-kind[data-kind="delivery"]')
            page.fill("#walkin-purpose", PURPOSE)
            page.click("#walkin-hand-over")
            page.wait_for_selector("#verdict:not([hidden])")
            assert page.get_attribute("#verdict", "data-offline") == "1"
            page.close()  # the volunteer leaves with the registration kept on the phone

            context.set_offline(False)
            context.clear_cookies()
            page = phone.reopen()
            log_in(page, base, "supervisor", site.passwords[Role.SUPERVISOR])
            page.goto(f"{base}/gate")
            page.wait_for_selector("#gate[data-kept='1']")
            page.wait_for_function(READY)
            page.wait_for_timeout(2_000)  # the page flushes kept walk-ins on load
            assert _walk_in(site) is None, "sent under the supervisor's login"

            context.clear_cookies()  # logged out; the phone's journal stays
            log_in(page, base, "volunteer", site.passwords[Role.VOLUNTEER])
            page.goto(f"{base}/gate")
            for _ in range(100):
                stored = _walk_in(site)
                if stored is not None:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the volunteer's kept walk-in was not sent")
            assert stored.user_id == _user_id(site, "volunteer")
            assert phone.problems == []
        finally:
            browser.close()
