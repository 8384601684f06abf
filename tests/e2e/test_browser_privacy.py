"""Letting the data go in Chromium (zh-CN), over the demo compound: the administrator exports
one household's data from its page, sets the retention, ends the lockdown with the community's
name typed, deletes the data, and the log integrity page then reads "verified from the
checkpoint". Screenshots ``privacy-*.png`` land in ``test-artifacts/screenshots/``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

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
from openpyxl import load_workbook
from sqlalchemy import select

from gate.accounts.models import Role
from gate.community.models import Community
from gate.db import transaction
from gate.households.models import Household

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    require_browser()
    built = seed_site(tmp_path, households=6)
    with live_server(built.app) as base:
        yield built, base


def test_admin_exports_a_household_ends_the_lockdown_and_deletes_the_data(
    site: tuple[Site, str], tmp_path: Path
) -> None:
    sync_api, chromium = require_browser()
    built, base = site
    with transaction(built.sessions, read_only=True) as session:
        code = session.scalars(select(Household.code).order_by(Household.id)).first()
        name = session.scalars(select(Community.name)).one()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(
                accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, base, "admin", built.passwords[Role.ADMIN])
            page.goto(f"{base}/households/{code}")
            page.screenshot(path=SCREENSHOTS / "privacy-household.png", full_page=True)
            with page.expect_download() as download:
                page.click("#privacy-export button")
            saved = tmp_path / "export.xlsx"
            download.value.save_as(saved)
            book = load_workbook(io.BytesIO(saved.read_bytes()))
            assert "成员" in book.sheetnames

            page.goto(f"{base}/privacy")
            assert "数据保存期限" in page.inner_text("h1")
            page.fill("input[name=days]", "0")
            page.click("#retention button")
            assert "封控结束后 0 天" in page.inner_text("#retention-days")
            page.fill("#confirm", name)
            page.screenshot(path=SCREENSHOTS / "privacy-end-lockdown.png", full_page=True)
            page.click("#end-lockdown button")
            assert "封控已结束" in page.inner_text("body")
            page.screenshot(path=SCREENSHOTS / "privacy-due.png", full_page=True)
            page.click("#purge button")
            assert "已删除" in page.inner_text("body")
            page.goto(f"{base}/log/chain")
            text = page.inner_text("#chain-status")
            assert "检查点起校验通过" in text
            page.screenshot(path=SCREENSHOTS / "privacy-chain.png", full_page=True)
        finally:
            browser.close()
    with transaction(built.sessions, read_only=True) as session:
        assert session.scalars(select(Household.code)).first() is None
