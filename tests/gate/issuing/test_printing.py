"""Printed pass cards: A4 PDF sheets and single-card PNGs, and CJK font discovery."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
import re
import shutil
import subprocess
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

import pytest
from PIL import Image

from gate import fonts
from gate.issuing import printing
from gate.issuing.printing import (
    CARDS_PER_SHEET,
    Card,
    qr_symbol_width_mm,
    render_card_png,
    render_card_sheets_pdf,
)
from passes.qr import qr_version

zxingcpp = pytest.importorskip("zxingcpp")

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
LINK = "https://checkpoint.example.cn/r/Xy7kQ2mNp4RtVw9Z"


def pass_text(seed: int) -> str:
    """A pass-shaped text: the real prefix and length, random Base45 body."""
    rng = random.Random(seed)
    return "CP1:" + "".join(rng.choice(BASE45) for _ in range(146))


def make_card(index: int, *, link: str | None = None) -> Card:
    return Card(
        pass_text=pass_text(index),
        household_code=f"3-2-{401 + index}",
        address_line=f"3号楼2单元{401 + index}室",
        community_name="鲤城街道幸福小区",
        valid_from=dt.date(2026, 11, 22),
        valid_until=dt.date(2026, 12, 22),
        rule_line="每三天可外出一次",
        manual_code="K7QM-2XPA",
        resident_link_url=link,
    )


def render_pdf(cards: list[Card]) -> bytes:
    out = io.BytesIO()
    render_card_sheets_pdf(cards, out)
    return out.getvalue()


def count_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def decoded_texts(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def rasterise_first_page(pdf: bytes, tmp_path: Path) -> Image.Image:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: cannot rasterise the PDF")
    source = tmp_path / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", str(source), str(tmp_path / "p")],
        check=True,
    )
    return Image.open(next(tmp_path.glob("p*.png")))


# --- the card ------------------------------------------------------------------------------


def test_card_has_exactly_the_allowed_fields_and_no_personal_data() -> None:
    assert {field.name for field in dataclasses.fields(Card)} == {
        "pass_text",
        "household_code",
        "address_line",
        "community_name",
        "valid_from",
        "valid_until",
        "rule_line",
        "manual_code",
        "resident_link_url",
    }


def test_card_with_validity_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="valid_until"):
        dataclasses.replace(make_card(0), valid_until=dt.date(2026, 11, 21))


def test_card_with_datetime_instead_of_local_date_is_rejected() -> None:
    with pytest.raises(TypeError, match="local date"):
        dataclasses.replace(make_card(0), valid_from=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))


def test_pass_qr_on_card_is_version_8_and_at_least_35_mm_wide() -> None:
    text = pass_text(1)
    assert len(text) == 150
    assert qr_version(text) == 8
    assert qr_symbol_width_mm(text) >= 35.0
    assert printing.PASS_QR_BOX_MM <= printing.CARD_WIDTH_MM / 2


def test_cards_fit_on_a4_with_margins_for_crop_marks() -> None:
    assert printing.SHEET_COLUMNS * printing.CARD_WIDTH_MM <= 210 - 2 * 10
    assert printing.SHEET_ROWS * printing.CARD_HEIGHT_MM <= 297 - 2 * 10


# --- PDF sheets ----------------------------------------------------------------------------


def test_nine_cards_make_two_a4_pages() -> None:
    out = io.BytesIO()
    pages = render_card_sheets_pdf([make_card(i) for i in range(9)], out)
    pdf = out.getvalue()

    assert pages == 2
    assert pdf.startswith(b"%PDF-")
    assert count_pages(pdf) == 2
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True)
        text = info.stdout.decode()
        assert re.search(r"^Pages:\s+2$", text, re.MULTILINE)
        assert "A4" in text
        assert "出入证" in text  # the title


def test_progress_reports_running_card_count_per_sheet() -> None:
    seen: list[int] = []
    render_card_sheets_pdf(
        [make_card(i) for i in range(CARDS_PER_SHEET * 2 + 1)],
        io.BytesIO(),
        on_progress=seen.append,
    )
    assert seen == [8, 16, 17]


def test_cards_are_consumed_one_sheet_at_a_time() -> None:
    pulled = 0

    def cards() -> Iterator[Card]:
        nonlocal pulled
        for index in range(CARDS_PER_SHEET * 3):
            pulled += 1
            yield make_card(index)

    pulled_at_progress: list[int] = []
    render_card_sheets_pdf(
        cards(), io.BytesIO(), on_progress=lambda _: pulled_at_progress.append(pulled)
    )
    # A sheet is finished when the first card of the next one arrives: never further ahead.
    assert pulled_at_progress == [9, 17, 24]


def test_no_cards_is_an_error_and_writes_nothing() -> None:
    out = io.BytesIO()
    with pytest.raises(ValueError, match="no cards"):
        render_card_sheets_pdf(iter([]), out)
    assert out.getvalue() == b""


def test_every_qr_on_a_rendered_sheet_decodes_to_its_text(tmp_path: Path) -> None:
    cards = [make_card(i, link=LINK if i % 3 == 0 else None) for i in range(9)]
    page = rasterise_first_page(render_pdf(cards), tmp_path)

    texts = decoded_texts(page)

    expected = {card.pass_text for card in cards[:CARDS_PER_SHEET]}
    assert {text for text in texts if text.startswith("CP1:")} == expected
    assert texts.count(LINK) == 3


def test_pdf_embeds_the_cjk_font_found_on_the_system() -> None:
    font = fonts.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed")
    try:
        printing._pdf_font(font)
    except Exception:  # pragma: no cover - a font reportlab cannot embed uses the CID fallback
        pytest.skip(f"{font} cannot be embedded by reportlab")
    pdf = render_pdf([make_card(0)])
    assert b"/FontFile2" in pdf  # an embedded TrueType program
    assert b"STSong-Light" not in pdf


def test_pdf_without_a_cjk_font_falls_back_to_the_cid_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printing, "find_cjk_font", lambda override=None: None)
    pdf = render_pdf([make_card(0)])
    assert b"STSong-Light" in pdf
    assert count_pages(pdf) == 1


def test_2000_cards_render_with_bounded_memory() -> None:
    # Every card encodes its own version-8 symbol (passes.qr_encoder: well under 1 ms each).
    printing._pdf_font(None)  # load the font outside the measurement

    def cards() -> Iterator[Card]:
        template = make_card(0)
        for index in range(2000):
            yield dataclasses.replace(template, pass_text=pass_text(index % 16))

    class CountingSink(io.RawIOBase):
        written = 0

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            self.written += len(data)
            return len(data)

    sink = CountingSink()
    tracemalloc.start()
    try:
        pages = render_card_sheets_pdf(cards(), cast(BinaryIO, sink))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert pages == 250
    assert sink.written > 0
    # About 10 MB today, most of it the finished file that reportlab assembles in memory at
    # save(). Without the per-sheet compression the peak is about 31 MB: keep the limit below.
    assert peak < 20 * 1024 * 1024


# --- PNG -----------------------------------------------------------------------------------


def test_png_card_decodes_to_the_exact_pass_text() -> None:
    card = make_card(5)
    image = Image.open(io.BytesIO(render_card_png(card)))

    assert image.size == (1063, 756)  # 90 x 64 mm at 300 dpi
    assert decoded_texts(image) == [card.pass_text]


def test_png_card_with_phone_link_shows_both_codes() -> None:
    card = make_card(6, link=LINK)
    image = Image.open(io.BytesIO(render_card_png(card)))

    assert sorted(decoded_texts(image)) == sorted([card.pass_text, LINK])


def test_png_without_a_cjk_font_still_renders_and_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printing, "find_cjk_font", lambda override=None: None)
    card = make_card(7)
    image = Image.open(io.BytesIO(render_card_png(card, dpi=200)))

    assert decoded_texts(image) == [card.pass_text]


# --- font discovery ------------------------------------------------------------------------


def test_find_cjk_font_returns_first_existing_candidate(tmp_path: Path) -> None:
    present = tmp_path / "b.ttc"
    present.write_bytes(b"")
    assert fonts.find_cjk_font(candidates=[tmp_path / "a.ttf", present]) == present


def test_find_cjk_font_returns_none_when_nothing_is_installed(tmp_path: Path) -> None:
    assert fonts.find_cjk_font(candidates=[tmp_path / "missing.ttc"]) is None
    assert fonts.find_cjk_font(candidates=()) is None


def test_find_cjk_font_explicit_path_must_exist(tmp_path: Path) -> None:
    chosen = tmp_path / "mine.otf"
    with pytest.raises(FileNotFoundError, match=r"mine\.otf"):
        fonts.find_cjk_font(chosen)
    chosen.write_bytes(b"")
    assert fonts.find_cjk_font(str(chosen), candidates=()) == chosen


def test_noto_cjk_collection_uses_its_simplified_chinese_face() -> None:
    assert fonts.subfont_index(Path("/x/NotoSansCJK-Regular.ttc")) == 2
    assert fonts.subfont_index(Path("/x/wqy-microhei.ttc")) == 0
