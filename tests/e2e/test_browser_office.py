"""The office and the gate in a real browser (Debian's Chromium driven by Playwright).

One story over the real app on a loopback port (SQLite demo compound): the office imports a
household sheet (a bad row is shown by number, the fixed file imports), issues the new
building's passes and prints its card sheet (a PDF of the right page count), puts a household
into home quarantine; a volunteer at /gate holds that household's card in front of a fake
camera (a Y4M video of the downloaded card PNG), types 36.5 and sees the red 禁止 verdict with
the quarantine reason; the office finds the crossing in the log and exports it as CSV.
Screenshots of the dashboard, the verdict and the resident page land in
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import (
    SCREENSHOTS,
    Site,
    launch,
    live_server,
    log_in,
    require_browser,
    seed_site,
    write_y4m,
)
from openpyxl import Workbook
from sqlalchemy import select

from gate.accounts.models import Role
from gate.db import transaction
from gate.households.models import Household
from gate.households.spreadsheet import COLUMNS
from gate.issuing.operations import current_pass
from gate.issuing.printing import CARDS_PER_SHEET
from gate.issuing.resident_links import issue_resident_link

pytestmark = pytest.mark.browser

BUILDING = "8"  # the demo has 1-7 (7号楼 sealed by the zones demo)
ROOMS = [f"{floor}0{door}" for floor in (1, 2, 3, 4, 5) for door in (1, 2)][:9]
"""Nine new households: two A4 sheets of eight cards."""
QUARANTINED = f"{BUILDING}-1-{ROOMS[0]}"
BAD_ROW = 4
"""The sheet row (header = row 1) whose phone number is wrong in the first upload."""
TIMEOUT_MS = 10_000


def household_sheet(path: Path, *, bad_phone: bool) -> Path:
    """The import sheet (Chinese headers) for the nine households of building 7."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    keys = ["household_code", "area", "grid", "building", "unit", "room", "head_name", "phone"]
    headers = {column.key: column.header_zh for column in COLUMNS}
    sheet.append([headers[key] for key in keys])
    for index, room in enumerate(ROOMS):
        phone = f"1380000{index:04d}"
        if bad_phone and index + 2 == BAD_ROW:
            phone = "12345"
        sheet.append(
            [f"{BUILDING}-1-{room}", "第一片区", "第1网格", BUILDING, "1", room, f"王{room}", phone]
        )
    workbook.save(path)
    return path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    require_browser()
    built = seed_site(tmp_path)
    with live_server(built.app) as base:
        yield built, base


def pdf_pages(pdf: Path) -> int:
    """The PDF's page count, by pdfinfo when installed, else by its /Type /Page objects."""
    try:
        info = subprocess.run(
            ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True, timeout=20
        ).stdout
    except FileNotFoundError:
        return len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes()))
    found = re.search(r"^Pages:\s+(\d+)", info, re.M)
    assert found, info
    return int(found.group(1))


def download(page: Any, click: str, into: Path) -> Path:
    with page.expect_download() as info:
        page.click(click)
    target = into / str(info.value.suggested_filename)
    info.value.save_as(target)
    return target


def office_prepares_the_building(page: Any, base: str, tmp_path: Path) -> Path:
    """Import (bad row, then fixed), issue the building's passes, print them; quarantine one
    household and download its card. Returns the card PNG."""
    page.goto(f"{base}/households/import")
    page.set_input_files(
        "input[name=sheet]", household_sheet(tmp_path / "bad.xlsx", bad_phone=True)
    )
    page.click("form[enctype] button[type=submit]")
    errors = page.locator("#row-errors tbody tr")
    errors.first.wait_for()
    assert errors.count() == 1
    assert errors.first.locator("td").first.inner_text().strip() == str(BAD_ROW)
    assert "联系电话" in errors.first.inner_text()
    assert page.locator("text=确认导入").count() == 0

    page.set_input_files(
        "input[name=sheet]", household_sheet(tmp_path / "good.xlsx", bad_phone=False)
    )
    page.click("form[enctype] button[type=submit]")
    assert page.inner_text("#created").strip() == str(len(ROOMS))
    page.click("text=确认导入")
    page.wait_for_url(f"{base}/households")
    assert f"新增 {len(ROOMS)} 户" in page.inner_text(".flash-success")

    for room in ROOMS:
        page.goto(f"{base}/households/{BUILDING}-1-{room}")
        page.click("button:has-text('发放出入证')")
        page.wait_for_selector(".flash-success")
        assert "出入证已发放" in page.inner_text(".flash-success")

    page.goto(f"{base}/passes/print")
    option = page.locator("select[name=building] option", has_text=f"{BUILDING}").first
    page.select_option("select[name=building]", value=option.get_attribute("value"))
    pdf = download(page, "button:has-text('下载 PDF')", tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf_pages(pdf) == math.ceil(len(ROOMS) / CARDS_PER_SHEET) == 2

    page.goto(f"{base}/households/{QUARANTINED}")
    until = (datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=7)).date()
    page.select_option("select[name=action]", value="quarantine")
    page.fill("input[name=until]", until.isoformat())
    page.fill("input[name=reason]", "密接人员居家隔离")
    page.click("button:has-text('保存状态')")
    page.wait_for_selector(".flash-success")
    assert "居家隔离" in page.inner_text("#status")
    return download(page, "a:has-text('出入证图片')", tmp_path)


def volunteer_scans(playwright: Any, chromium: str, site: Site, base: str, video: Path) -> None:
    """At /gate, the fake camera shows the card; type 36.5; see 禁止 for the quarantine."""
    browser = launch(playwright, chromium, fake_video=video)
    try:
        page = browser.new_page(locale="zh-CN", viewport={"width": 800, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        log_in(page, base, "volunteer", site.passwords[Role.VOLUNTEER])
        page.goto(f"{base}/gate")
        page.locator("#prompt", has_text="请输入体温").wait_for()  # the camera read the card
        for key in ("3", "6", ".", "5"):
            page.click(f'.key[data-key="{key}"]')
        assert page.text_content("#temp-display") == "36.5"
        page.click('.key[data-key="ok"]')
        page.wait_for_selector("#verdict.verdict-refuse", state="visible")
        assert page.text_content("#verdict-headline") == "禁止"
        assert "居家隔离" in (page.text_content("#verdict-reason") or "")
        assert (page.text_content("#verdict-label") or "").startswith(QUARANTINED)
        page.screenshot(path=SCREENSHOTS / "gate-verdict.png")
        assert problems == []
    finally:
        browser.close()


def office_checks_the_log(page: Any, base: str, tmp_path: Path) -> None:
    page.goto(f"{base}/log?household={QUARANTINED}")
    row = page.locator("#crossings tbody tr").first
    assert QUARANTINED in row.inner_text()
    assert "禁止" in row.inner_text()
    assert "居家隔离中" in row.inner_text()  # the reason in words; the code is its title
    assert "quarantined" in row.inner_html()
    exported = download(page, "a:has-text('导出 CSV')", tmp_path)
    text = exported.read_text(encoding="utf-8-sig")
    assert QUARANTINED in text
    assert len(text.strip().splitlines()) == 2  # the header and the one crossing


def resident_link(site: Site, code: str) -> str:
    with transaction(site.sessions) as session:
        household = session.scalars(select(Household).where(Household.code == code)).one()
        issued = current_pass(session, household)
        assert issued is not None
        return issue_resident_link(session, issued, actor="test", now=datetime.now(UTC))


def test_office_and_gate_in_chromium(site: tuple[Site, str], tmp_path: Path) -> None:
    sync_api, chromium = require_browser()
    built, base = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            context = browser.new_context(
                accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            office = context.new_page()
            office.set_default_timeout(TIMEOUT_MS)
            log_in(office, base, "office", built.passwords[Role.OFFICE])
            office.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
            assert "当前在外" in office.inner_text("main")
            office.goto(f"{base}/rules")
            assert "外出次数" in office.inner_text("main")  # the rules as a form, in Chinese
            office.screenshot(path=SCREENSHOTS / "rules-form.png", full_page=True)

            card = office_prepares_the_building(office, base, tmp_path)
            video = tmp_path / "card.y4m"
            write_y4m(card.read_bytes(), video)
            volunteer_scans(playwright, chromium, built, base, video)
            office_checks_the_log(office, base, tmp_path)

            token = resident_link(built, QUARANTINED)
            phone = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
            phone.goto(f"{base}/p/{token}")
            assert "居家隔离" in phone.inner_text("body")
            phone.screenshot(path=SCREENSHOTS / "resident.png", full_page=True)
        finally:
            browser.close()
