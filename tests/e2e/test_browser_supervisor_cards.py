"""The supervisor card page in Chromium (Playwright), over the demo compound: office staff
issue a card to the demo supervisor, download it as PNG and PDF, and revoke it. Screenshots
of the page and the card land in ``test-artifacts/screenshots/``."""

from __future__ import annotations

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

from gate.accounts.models import Role

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    require_browser()
    built = seed_site(tmp_path)
    with live_server(built.app) as base:
        yield built, base


def test_office_issues_downloads_and_revokes_a_supervisor_card(
    site: tuple[Site, str], tmp_path: Path
) -> None:
    sync_api, chromium = require_browser()
    built, base = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(
                accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, base, "office", built.passwords[Role.OFFICE])
            page.click("nav >> text=主管卡")
            page.select_option("select[name=username]", "supervisor")
            page.fill("input[name=days]", "90")
            page.click("form button.button-primary")
            row = page.locator("#cards tbody tr[id^=card-]").first
            row.wait_for()
            assert "值班负责人" in row.inner_text()
            assert "有效" in row.inner_text()
            page.screenshot(path=SCREENSHOTS / "supervisor-cards.png", full_page=True)
            with page.expect_download() as png:
                row.locator("button[value=png]").click()
            card = tmp_path / "card.png"
            png.value.save_as(card)
            (SCREENSHOTS / "supervisor-card.png").write_bytes(card.read_bytes())
            with page.expect_download() as pdf:
                row.locator("button[value=pdf]").click()
            assert pdf.value.suggested_filename.endswith(".pdf")
            row.locator("input[name=reason]").fill("遗失")
            row.locator("button.button-danger").click()
            page.locator("[data-state=revoked]").wait_for()
            assert "已作废" in page.locator("#cards").inner_text()
        finally:
            browser.close()
