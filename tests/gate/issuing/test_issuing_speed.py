"""Issuing at scale (issue #16 item 4): fast enough, and still what a gate can read.

The full figures (50,000 passes, a 10,000-card PDF) come from ``bench/issuance.py``; these
tests keep the per-pass and per-card CPU cost far below what the 60-second targets allow on
the 2-core machine (CPU time, not wall time, so that a busy machine does not fail them), and
check that speed did not cost the cards their quality: real signed passes, vector QR of at
least 35 mm, and every card of a sheet read back from a 150 dpi rasterisation of the PDF.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from gate.issuing.printing import (
    CARDS_PER_SHEET,
    Card,
    qr_symbol_width_mm,
    render_card_sheets_pdf,
)
from passes import Pass, SigningKey, new_pass_id, render_png

zxingcpp = pytest.importorskip("zxingcpp")

TARGET_S = 60.0
PASSES_TARGET = 50_000
CARDS_TARGET = 10_000
CORES = 2
"""The development machine's cores: the budget below assumes both can be used."""


def signed_passes(count: int, first: int = 0) -> Iterator[str]:
    key = SigningKey.generate(7)
    now = datetime.now(UTC).replace(microsecond=0)
    for index in range(first, first + count):
        yield key.sign(
            Pass(
                key_id=7,
                pass_id=new_pass_id(),
                household_id=200_000 + index,
                community_id=350322,
                generation=1,
                issued_at=now,
                valid_until=now + timedelta(days=30),
            )
        )


def cards(count: int) -> Iterator[Card]:
    first_day = dt.date(2026, 12, 1)
    for index, text in enumerate(signed_passes(count)):
        building, room = 1 + index // 100, 101 + index % 100
        yield Card(
            pass_text=text,
            household_code=f"{building}-1-{room}",
            address_line=f"{building}号楼 1单元 {room}室",
            community_name="基准小区",
            valid_from=first_day,
            valid_until=first_day + timedelta(days=29),
            rule_line="每户每3天可外出1次",
            manual_code=f"K7QM-{index:04d}",
        )


def test_signing_and_rendering_a_pass_costs_far_less_than_the_budget() -> None:
    # 50,000 passes in 60 s on 2 cores allows 2.4 ms of CPU per pass; python-qrcode took ~16.
    list(signed_passes(5))  # imports and first-use tables outside the measurement
    render_png(next(signed_passes(1)))
    count = 300
    started = time.process_time()
    sizes = [len(render_png(text)) for text in signed_passes(count)]
    per_pass = (time.process_time() - started) / count
    assert per_pass < TARGET_S * CORES / PASSES_TARGET
    assert max(sizes) < 2500


def test_a_card_pdf_costs_far_less_than_the_budget() -> None:
    # 10,000 cards in 60 s allows 6 ms of CPU per card in one process; it was ~15.
    render_card_sheets_pdf(cards(1), io.BytesIO())  # font registration outside
    count = 240
    started = time.process_time()
    out = io.BytesIO()
    pages = render_card_sheets_pdf(cards(count), out)
    per_card = (time.process_time() - started) / count
    assert pages == count // CARDS_PER_SHEET
    assert per_card < TARGET_S / CARDS_TARGET
    assert len(out.getvalue()) / count < 2200  # bytes per card, fonts included


def test_every_card_of_a_sheet_reads_back_from_the_pdf_at_150_dpi(tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: cannot rasterise the PDF")
    made = list(cards(2 * CARDS_PER_SHEET))
    out = io.BytesIO()
    render_card_sheets_pdf(made, out)
    pdf = out.getvalue()
    # Vector QR: no raster image anywhere in the file, and the symbol at least 35 mm wide.
    assert b"/Subtype /Image" not in pdf
    assert all(qr_symbol_width_mm(card.pass_text) >= 35.0 for card in made)
    source = tmp_path / "sheets.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "2", "-l", "2", str(source), str(tmp_path / "p")],
        check=True,
    )
    page = Image.open(next(tmp_path.glob("p*.png")))
    assert page.size[0] == pytest.approx(210 / 25.4 * 150, abs=2)  # A4 at 150 dpi
    texts = {result.text for result in zxingcpp.read_barcodes(page)}
    assert texts == {card.pass_text for card in made[CARDS_PER_SHEET:]}


def test_the_pdf_draws_each_qr_as_one_filled_path_of_rectangles() -> None:
    out = io.BytesIO()
    render_card_sheets_pdf(cards(1), out)
    # Page streams are deflated: look at the operators once inflated.
    pdf = out.getvalue()
    pages = []
    for start in re.finditer(rb"\nstream\r?\n", pdf):
        try:  # a deflated stream inflates; the rest (ASCII85 form, font program) may not
            pages.append(zlib.decompressobj().decompress(pdf[start.end() :]))
        except zlib.error:
            continue
    qr = [page for page in pages if b" re\n" in page and b"cm 0 g" in page]
    assert len(qr) == 1
    body = qr[0].split(b"cm 0 g\n", 1)[1].split(b"f Q", 1)[0]
    rects = body.splitlines()
    assert rects
    assert all(re.fullmatch(rb"\d+ \d+ \d+ 1 re", line) for line in rects)
