"""The windscreen card of a vehicle pass: A5 landscape, the plate in large type, a vector QR.

Read through a windscreen from a metre or two: the plate is the biggest thing on it (the
volunteer compares it with the car's), a green band says 车辆通行证 (never taken for a red
household 出入证 or a blue 主管卡), and the QR is drawn as filled rectangles (vector in the
PDF, sharp at any printer's resolution). A PNG of the same layout serves the office's preview.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from gate.fonts import find_cjk_font, subfont_index
from passes.qr import QUIET_ZONE_MODULES, qr_modules

PAGE_W_MM, PAGE_H_MM = 210.0, 148.0
QR_BOX_MM = 80.0
_GREEN = "#1B7F3B"
_INK = "#1A1A1A"
_GREY = "#6B6B6B"
_FALLBACK_PDF_FONT = "STSong-Light"


@dataclass(frozen=True, slots=True)
class WindscreenCard:
    """What one windscreen card shows (local dates: the caller converts)."""

    pass_text: str
    plate: str
    household_code: str
    community_name: str
    valid_from: dt.date
    valid_until: dt.date
    short_id: str


def _lines(card: WindscreenCard) -> list[tuple[float, float, str, float, str]]:
    """The texts as (x mm, baseline mm from the top, text, size pt, colour)."""
    column = 14 + QR_BOX_MM
    period = f"{card.valid_from.isoformat()} 至 {card.valid_until.isoformat()}"
    return [
        (10, 17, "车辆通行证", 24, "#FFFFFF"),
        (column, 17, card.community_name[:16], 13, "#FFFFFF"),
        (column, 48, card.plate, 46, _INK),
        (column, 64, "住户", 10, _GREY),
        (column, 74, card.household_code, 20, _INK),
        (column, 88, "有效期", 10, _GREY),
        (column, 97, period, 14, _INK),
        (column, 111, "证号", 10, _GREY),
        (column, 120, card.short_id, 16, _INK),
        (10, 140, "请将本证放置于前挡风玻璃内侧，出入时配合值守人员扫码核验车牌", 10, _GREY),
    ]


def render_windscreen_pdf(card: WindscreenCard, *, font_path: Path | None = None) -> bytes:
    """The card as a one-page A5 landscape PDF; the QR is vector."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=landscape(A5))
    canvas.setTitle(f"车辆通行证 {card.plate}")
    font = _pdf_font(font_path)
    height = PAGE_H_MM * mm
    canvas.setFillColor(HexColor(_GREEN))
    canvas.roundRect(5 * mm, height - 25 * mm, (PAGE_W_MM - 10) * mm, 20 * mm, 3 * mm, 0, 1)
    for x, baseline, text, size, colour in _lines(card):
        canvas.setFillColor(HexColor(colour))
        canvas.setFont(font, size)
        canvas.drawString(x * mm, height - baseline * mm, text)
    modules = qr_modules(card.pass_text)
    total = len(modules) + 2 * QUIET_ZONE_MODULES
    unit = QR_BOX_MM * mm / total
    left, top = 8 * mm + QUIET_ZONE_MODULES * unit, height - 32 * mm - QUIET_ZONE_MODULES * unit
    canvas.setFillColor(HexColor("#000000"))
    for row, line in enumerate(modules):
        for column, dark in enumerate(line):
            if dark:
                canvas.rect(left + column * unit, top - (row + 1) * unit, unit, unit, 0, 1)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def render_windscreen_png(
    card: WindscreenCard, *, dpi: int = 150, font_path: Path | None = None
) -> bytes:
    """The same card as PNG bytes at ``dpi`` (a preview, or for a phone to show)."""
    scale = dpi / 25.4
    image = Image.new("RGB", (round(PAGE_W_MM * scale), round(PAGE_H_MM * scale)), "#FFFFFF")
    draw = ImageDraw.Draw(image)
    band = [5 * scale, 5 * scale, (PAGE_W_MM - 5) * scale, 25 * scale]
    draw.rounded_rectangle(band, radius=3 * scale, fill=_GREEN)
    path = find_cjk_font(font_path)
    for x, baseline, text, size, colour in _lines(card):
        font = _pil_font(path, max(6, round(size / 72 * 25.4 * scale)))
        if isinstance(font, ImageFont.FreeTypeFont):
            draw.text((x * scale, baseline * scale), text, fill=colour, font=font, anchor="ls")
        else:  # pragma: no cover - a machine without a CJK font
            draw.text((x * scale, (baseline - size / 3) * scale), text, fill=colour, font=font)
    modules = qr_modules(card.pass_text)
    total = len(modules) + 2 * QUIET_ZONE_MODULES
    unit = max(1, int(QR_BOX_MM * scale) // total)
    left = round(8 * scale) + QUIET_ZONE_MODULES * unit
    top = round(32 * scale) + QUIET_ZONE_MODULES * unit
    for row, line in enumerate(modules):
        for column, dark in enumerate(line):
            if dark:
                x0, y0 = left + column * unit, top + row * unit
                draw.rectangle([x0, y0, x0 + unit - 1, y0 + unit - 1], fill="#000000")
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


@lru_cache(maxsize=4)
def _pdf_font(font_path: Path | None) -> str:
    """A registered reportlab font that draws Chinese (the CID fallback when the system font
    cannot be embedded)."""
    path = find_cjk_font(font_path)
    if path is not None:
        name = f"CheckpointWindscreen-{path.stem}"
        try:
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=subfont_index(path)))
            return name
        except TTFError:
            pass  # CFF-outline fonts (Noto CJK) cannot be embedded by reportlab
    if _FALLBACK_PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_FALLBACK_PDF_FONT))
    return _FALLBACK_PDF_FONT


@lru_cache(maxsize=32)
def _pil_font(path: Path | None, size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size_px, index=subfont_index(path))
        except OSError:
            pass  # unreadable font file: fall back rather than fail to print
    return ImageFont.load_default(size=size_px)
