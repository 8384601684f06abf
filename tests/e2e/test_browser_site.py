"""The site page and bulk issuing in a real browser (Debian's Chromium driven by Playwright).

On the demo compound (SQLite, loopback server) an office clerk adds a grid and a building on
/site, merges a building entered twice (7号楼 and 7: its households move, counted on the
page), closes a gate; then on /passes/print issues the passes of the merged building in one
go (the result count shows) and downloads its card PDF. Screenshots of both pages land in
``test-artifacts/screenshots/`` (site.png, passes.png).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import SCREENSHOTS, launch, live_server, log_in, require_browser, seed_site
from sqlalchemy import select

from gate.accounts.models import Role
from gate.community.models import Building
from gate.db import transaction
from gate.households.models import Household

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


def _count(page: Any, building_id: int) -> int:
    return int(page.get_attribute(f"#building-{building_id} [data-households]", "data-households"))


def test_the_office_sets_up_its_site_and_issues_a_building_in_one_go(tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    site = seed_site(tmp_path, households=12)
    with transaction(site.sessions) as session:
        first = session.scalars(select(Building).order_by(Building.id)).first()
        assert first is not None
        twin = Building(compound_id=first.compound_id, code=f"{first.code}栋", name=first.name)
        session.add(twin)
        session.flush()
        moved = session.scalars(
            select(Household).where(Household.building_id == first.id).limit(2)
        ).all()
        for household in moved:
            household.building_id = twin.id
        keep_id, twin_id, name = first.id, twin.id, first.name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with live_server(site.app) as base, sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(
                accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            questions: list[str] = []

            def answer_yes(dialog: Any) -> None:
                questions.append(dialog.message)
                dialog.accept()

            page.on("dialog", answer_yes)
            log_in(page, base, "office", site.passwords[Role.OFFICE])
            page.click("nav >> text=小区设置")
            page.wait_for_url(f"{base}/site")
            before = _count(page, keep_id) + _count(page, twin_id)
            assert _count(page, twin_id) == 2

            area = page.locator(".site-area").first
            area.locator("input[placeholder^='名称，如 第1网格']").fill("第9网格")
            area.locator("button:has-text('添加网格')").click()
            assert "已添加 第9网格" in page.inner_text(".flash-success")
            grid = page.locator(".site-grid", has_text="第9网格")
            grid.locator("button:has-text('添加小区/院落')").wait_for()

            page.select_option("select[name=keep]", value=str(keep_id))
            page.select_option("select[name=merged]", value=str(twin_id))
            page.click("#merge button:has-text('合并')")
            assert "2 户已转入" in page.inner_text(".flash-success")
            assert "无法撤销" in questions[-1]  # the clerk was asked first
            assert page.locator(f"#building-{twin_id}").count() == 0
            assert _count(page, keep_id) == before

            gate = page.locator("tr[data-gate]").first
            gate.locator("summary:has-text('关闭此出入口')").click()
            gate.locator("input[name=reason]").fill("只留一个出入口")
            gate.locator("button:has-text('关闭并吊销')").click()
            assert "已关闭" in page.inner_text(".flash-success")
            page.screenshot(path=str(SCREENSHOTS / "site.png"), full_page=True)

            page.click("nav >> text=出入证")
            page.check("input[name=issue-scope][value=all]")
            option = page.locator("select[name=issue-building] option", has_text=name).first
            page.select_option("select[name=issue-building]", value=option.get_attribute("value"))
            assert page.is_checked("input[name=issue-scope][value=building]")  # ticked with it
            page.check("input[name=issue-mode][value=reissue]")
            page.fill("input[name=issue-reason]", "统一换发")
            page.click("#issue button:has-text('签发')")
            page.wait_for_url(re.compile(r"/passes/print\?building="))
            result = page.inner_text(".flash-success")
            assert re.search(rf"已换发 {before} 张出入证", result), result
            page.screenshot(path=str(SCREENSHOTS / "passes.png"), full_page=True)

            chosen = page.eval_on_selector("select[name=building]", "select => select.value")
            assert chosen == option.get_attribute("value")  # the print form shows the building
            with page.expect_download() as info:
                page.click("#print button:has-text('下载 PDF')")
            pdf = tmp_path / "cards.pdf"
            info.value.save_as(pdf)
            assert pdf.read_bytes().startswith(b"%PDF")
        finally:
            browser.close()
