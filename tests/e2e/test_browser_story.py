"""The browser story of issue #12, from an empty database to the first crossing (Chromium, zh-CN).

A real ``checkpoint serve`` process on a fresh SQLite instance directory (after ``checkpoint db
upgrade``) prints the one-time setup link; an office clerk opens it and sets up the first
administrator and the community, the first gate and the rules template 三天一出; imports an
.xlsx with Chinese headers and three bad rows (the good rows only); issues the passes of one
building on the passes page and downloads its card PDF; creates a scanner on the devices page
and reads its enrolment code. The real ``checkpoint-scanner`` enrols with that code and scans a
card cut from the PDF (pdftoppm at 150 dpi, the pass QR found with zxingcpp); the crossing
shows on /log in Chinese (通过, 外出, the gate's name).

Screenshots of every step: ``test-artifacts/screenshots/story-*.png``. The story's wall time is
printed (``-s`` shows it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import SCREENSHOTS, launch, log_in, require_browser
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).parents[1] / "faults"))
from compound import ServerProcess

pytestmark = pytest.mark.browser

BIN = Path(sys.executable).parent
TIMEOUT_MS = 20_000
LINK = re.compile(r"^ {4}(http://\S+/setup/[A-Za-z0-9_-]{20,})$", re.MULTILINE)
ADMIN, PASSWORD = "wangzr", "Xingfu-li-2026!"
GATE = "南门"
HEADER = ["户编号", "片区", "网格", "小区", "楼栋", "单元", "房号", "姓名", "与户主关系",
          "联系电话", "身份证号", "人数", "备注"]  # fmt: skip
ROWS = [
    ["9-1-101", "", "", "", "9号楼", "1单元", "101", "陈一", "户主", "13800000101", "", "3", ""],
    ["9-1-101", "", "", "", "", "", "", "林二", "配偶", "13800000102", "", "", ""],
    ["9-1-102", "", "", "", "九栋", "一单元", "102室", "黄四", "", "13800000104", "", "", ""],
    ["9-1-103", "", "", "", "9", "1", "103", "周五", "", "1380000", "", "", ""],
    ["9-1-104", "", "", "", "9", "1", "", "吴六", "", "13800000106", "", "", ""],
    ["9-1-102", "", "", "", "", "", "", "黄小七", "孙子辈", "", "", "", ""],
    ["9-1-105", "", "", "", "9", "1", "105", "郑八", "", "13800000108", "", "2", "独居"],
    ["10-1-101", "", "", "", "10号楼", "1单元", "101", "冯九", "户主", "13800000109", "", "1", ""],
]
BAD_ROWS = {5, 6, 7}  # sheet rows: the header is row 1
BUILDING_9 = {"9-1-101", "9-1-102", "9-1-105"}


def _register(path: Path) -> Path:
    workbook = Workbook()
    for values in [HEADER, *ROWS]:
        workbook.active.append([value or None for value in values])
    workbook.save(path)
    return path


def _tool(program: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(BIN / program), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{program} {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"story-{name}.png"), full_page=True)


def _card_image(pdf: Path, into: Path) -> Path:
    """The first pass card of ``pdf`` as a PNG: page 1 at 150 dpi, cut around the pass QR
    (found with zxingcpp) with a margin."""
    import cv2
    import zxingcpp

    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(into / "sheet")],
        check=True,
        timeout=60,
    )
    (sheet,) = into.glob("sheet*.png")
    image = cv2.imread(str(sheet))
    assert image is not None
    codes = [
        found
        for found in zxingcpp.read_barcodes(image)
        if found.format == zxingcpp.BarcodeFormat.QRCode and found.text.startswith("CP1:")
    ]
    assert codes, "no pass QR on the first page of the PDF"
    first = min(codes, key=lambda found: (found.position.top_left.y, found.position.top_left.x))
    corners = [
        first.position.top_left,
        first.position.top_right,
        first.position.bottom_right,
        first.position.bottom_left,
    ]
    margin = 40
    left = max(min(p.x for p in corners) - margin, 0)
    top = max(min(p.y for p in corners) - margin, 0)
    right = min(max(p.x for p in corners) + margin, image.shape[1])
    bottom = min(max(p.y for p in corners) + margin, image.shape[0])
    card = into / "card.png"
    cv2.imwrite(str(card), image[top:bottom, left:right])
    shutil.copyfile(card, SCREENSHOTS / "story-card.png")  # what the scanner was shown
    return card


def test_an_office_goes_from_an_empty_database_to_the_first_crossing_in_a_browser(
    tmp_path: Path,
) -> None:
    sync_api, chromium = require_browser()
    if shutil.which("pdftoppm") is None:
        pytest.skip("no pdftoppm (Debian package poppler-utils)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CHECKPOINT_ENV": "development",
        "CHECKPOINT_INSTANCE_DIR": str(tmp_path / "var"),
    }
    _tool("checkpoint", "db", "upgrade", env=env)
    log = tmp_path / "serve.log"
    server = ServerProcess(env, log)
    server.start()
    try:
        found = LINK.search(log.read_text())
        assert found is not None, log.read_text()
        link, base = found.group(1), server.url
        assert link.startswith(f"{base}/setup/")
        with sync_api.sync_playwright() as playwright:
            browser = launch(playwright, chromium)
            try:
                context = browser.new_context(
                    accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900}
                )
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                code = _office_story(page, link, base, tmp_path)
                _scan_the_card(env, base, code, tmp_path)
                _the_crossing_is_in_the_log(page, base)
            finally:
                browser.close()
    finally:
        server.stop()
    print(
        f"browser story, empty database to the first crossing: {time.monotonic() - started:.1f} s"
    )


def _office_story(page: Any, link: str, base: str, tmp_path: Path) -> str:
    """The clerk's part in the browser; returns the scanner's enrolment code."""
    # 1. The setup link: the first administrator and the community.
    page.goto(link)
    assert "首次设置" in page.inner_text("h1")
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=display_name]", "王主任")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_again]", PASSWORD)
    page.fill("input[name=community_name]", "幸福里社区")
    assert page.input_value("select[name=timezone]") == "Asia/Shanghai"
    page.fill("input[name=address]", "鲤城区幸福路 1 号")
    _shot(page, "01-setup")
    page.click("form.setup-card button[type=submit]")
    page.wait_for_url(f"{base}/setup/gate")

    # 2. The first gate.
    page.fill("input[name=name]", GATE)
    _shot(page, "02-gate")
    page.click("form.setup-card button[type=submit]")
    page.wait_for_url(f"{base}/setup/rules")

    # 3. The rules template 三天一出.
    page.locator("label.setup-choice", has_text="三天一出").locator("input").check()
    _shot(page, "03-rules")
    page.click("form.setup-card button[type=submit]")
    page.wait_for_url(f"{base}/setup/done")
    assert "幸福里社区" in page.inner_text("#next-steps")
    _shot(page, "04-next-steps")

    # The link is used up for good.
    assert page.goto(link).status == 410

    # 4. Import the register (the administrator is logged in already; log in if not).
    page.goto(f"{base}/households/import")
    if "/login" in page.url:
        log_in(page, base, ADMIN, PASSWORD)
        page.goto(f"{base}/households/import")
    page.set_input_files("input[name=sheet]", _register(tmp_path / "住户登记.xlsx"))
    page.click("form[enctype] button[type=submit]")
    page.locator("#row-errors").wait_for()
    rows = page.locator("#row-errors tbody tr")
    numbers = {int(rows.nth(i).locator("td").first.inner_text()) for i in range(rows.count())}
    assert numbers == BAD_ROWS
    assert page.inner_text("#bad-count").strip() == "3"
    _shot(page, "05-import-preview")
    page.click("#import-good")
    page.locator("#import-done").wait_for()
    done = page.inner_text("#import-done")
    assert "有错误的 3 行已跳过" in done, done
    assert "新增 4 户" in done, done
    _shot(page, "06-import-done")

    # 5. Issue the passes of building 9 and download its cards.
    page.goto(f"{base}/passes/print")
    page.check("input[name=issue-scope][value=building]")
    options = page.locator("select[name=issue-building] option").all_inner_texts()
    building = next(text for text in options if re.search(r"(?<!\d)9(?!\d)", text))
    option = page.locator("select[name=issue-building] option", has_text=building).first
    page.select_option("select[name=issue-building]", value=option.get_attribute("value"))
    page.click("#issue button:has-text('签发')")
    result = page.inner_text(".flash-success")
    assert "9号楼：新签发 3 张出入证" in result, result
    assert "共 3 户" in result, result
    _shot(page, "07-passes")
    with page.expect_download() as info:
        page.click("#print button:has-text('下载 PDF')")
    pdf = tmp_path / "cards.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")

    # 6. A scanner at the gate: its enrolment code.
    page.goto(f"{base}/devices")
    page.fill("input[name=name]", "南门扫码机")
    page.click("form[action$='/devices'] button[type=submit]")
    page.locator("#enrolment-code").wait_for()
    code = str(page.inner_text("#enrolment-code")).strip()
    assert code
    _shot(page, "08-device")
    return code


def _scan_the_card(env: dict[str, str], base: str, code: str, tmp_path: Path) -> None:
    """The scanner enrols with the code and scans a card cut from the PDF."""
    card = _card_image(tmp_path / "cards.pdf", tmp_path)
    data = ["--data-dir", str(tmp_path / "scanner")]
    _tool("checkpoint-scanner", "enroll", "--server", base, "--code", code, *data, env=env)
    out = _tool(
        "checkpoint-scanner", "run", "--images", str(card), "--headless",
        "--thermometer", "fixed:36.5", "--direction", "out", *data, env=env,
    )  # fmt: skip
    screens = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(s["kind"], s["online"]) for s in screens] == [("allow", True)], out


def _the_crossing_is_in_the_log(page: Any, base: str) -> None:
    page.goto(f"{base}/log")
    rows = page.locator("#crossings tbody tr[data-id]")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "通过" in row, row
    assert "外出" in row, row
    assert GATE in row, row
    assert any(household in row for household in BUILDING_9), row
    assert "36.5" in row, row
    _shot(page, "09-log")
