"""The household import page in Chromium (zh-CN): an .xlsx with Chinese headers, members and
three bad rows; the preview lists them by row number in Chinese; the good rows import; the bad
rows download as .xlsx with a 错误原因 column. Screenshot: ``import-preview.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
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
from openpyxl import Workbook, load_workbook

from gate.accounts.models import Role

pytestmark = pytest.mark.browser

HEADER = ["户编号", "片区", "网格", "小区", "楼栋", "单元", "房号", "姓名", "与户主关系",
          "联系电话", "身份证号", "人数", "备注"]  # fmt: skip
ROWS = [
    ["9-1-101", "", "", "", "9号楼", "1单元", "101", "陈一", "户主", "13800000101", "", "3", ""],
    ["9-1-101", "", "", "", "", "", "", "林二", "配偶", "13800000102", "", "", ""],
    ["9-1-101", "", "", "", "", "", "", "陈小三", "子女", "", "", "", "在读小学"],
    ["9-1-102", "", "", "", "九栋", "一单元", "102室", "黄四", "", "13800000104", "", "", ""],
    ["9-1-103", "", "", "", "9", "1", "103", "周五", "", "1380000", "", "", ""],
    ["9-1-104", "", "", "", "9", "1", "", "吴六", "", "13800000106", "", "", ""],
    ["9-1-102", "", "", "", "", "", "", "黄小七", "孙子辈", "", "", "", ""],
    ["9-1-105", "", "", "", "9", "1", "105", "郑八", "", "13800000108", "", "2", "独居"],
]
BAD_ROWS = {6, 7, 8}  # sheet rows: the header is row 1
TIMEOUT_MS = 15_000


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    require_browser()
    built = seed_site(tmp_path)
    with live_server(built.app) as base:
        yield built, base


def sheet(path: Path, rows: list[list[str]] | None = None) -> Path:
    workbook = Workbook()
    for values in rows or [HEADER, *ROWS]:
        workbook.active.append([value or None for value in values])
    workbook.save(path)
    return path


def download(page: Any, selector: str, into: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    target = into / str(info.value.suggested_filename)
    info.value.save_as(target)
    return target


def test_import_preview_skip_bad_and_bad_rows_download(
    site: tuple[Site, str], tmp_path: Path
) -> None:
    built, base = site
    sync_api, chromium = require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(
                accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            log_in(page, base, "office", built.passwords[Role.OFFICE])
            page.goto(f"{base}/households/import")
            template = download(page, "#template-link", tmp_path)
            assert load_workbook(template).sheetnames == ["住户登记", "填写说明"]

            page.set_input_files("input[name=sheet]", sheet(tmp_path / "住户登记.xlsx"))
            page.click("form[enctype] button[type=submit]")
            page.locator("#row-errors").wait_for()
            page.screenshot(path=SCREENSHOTS / "import-preview.png", full_page=True)

            rows = page.locator("#row-errors tbody tr")
            numbers = {
                int(rows.nth(i).locator("td").first.inner_text()) for i in range(rows.count())
            }
            assert numbers == BAD_ROWS
            table = page.inner_text("#row-errors")
            assert not re.search(r"[A-Za-z]{2,}", table), table  # Chinese only
            assert page.inner_text("#created").strip() == "3"
            assert page.inner_text("#bad-count").strip() == "3"

            bad_file = download(page, "#bad-rows-link", tmp_path)
            bad = [[c.value for c in row] for row in load_workbook(bad_file).active.iter_rows()]
            assert bad[0] == [*HEADER, "错误原因"]
            assert [row[7] for row in bad[1:]] == ["周五", "吴六", "黄小七"]

            page.click("#import-good")
            page.locator("#import-done").wait_for()
            assert "有错误的 3 行已跳过" in page.inner_text("#import-done")
            assert "新增 3 户" in page.inner_text("#import-done")
            page.screenshot(path=SCREENSHOTS / "import-done.png", full_page=True)

            large = [HEADER] + [
                [f"10-1-{1000 + i}", "", "", "", "10", "1", str(1000 + i), f"户主{i}", "",
                 f"139{i:08d}", "", "", ""]
                for i in range(1500)
            ]  # fmt: skip
            page.set_input_files("input[name=sheet]", sheet(tmp_path / "大表.xlsx", large))
            page.click("form[enctype] button[type=submit]")
            page.click("text=确认导入")
            page.wait_for_url(re.compile(r"/households(/import/[0-9a-f]+/job)?$"))
            if page.locator("#import-job").count():  # still running: the progress bar shows
                page.screenshot(path=SCREENSHOTS / "import-progress.png", full_page=True)
            page.wait_for_url(f"{base}/households", timeout=120_000)
            assert "新增 1500 户" in page.inner_text(".flash-success")
        finally:
            browser.close()
