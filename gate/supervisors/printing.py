"""A printed supervisor card: 90 x 64 mm, the card's QR and what a volunteer reads by eye.

The card shows a dark blue band with 主管卡 (so it is never taken for a household's red 出入证),
the QR of the card text, the holder's name, the community, the validity as local dates and
the card's short number (what the office types to revoke it). PNG at 300 dpi, or a PDF of
one card per A4 page (centred, with a cut outline), drawn from the same PNG so the two
cannot differ.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from gate.fonts import find_cjk_font, subfont_index
from passes.qr import QUIET_ZONE_MODULES, qr_modules

CARD_WIDTH_MM = 90.0
CARD_HEIGHT_MM = 64.0
QR_BOX_MM = 44.0
_BLUE = "#1F3A93"
_INK = "#1A1A1A"
_GREY = "#6B6B6B"
_WHITE = "#FFFFFF"


@dataclass(frozen=True, slots=True)
class SupervisorCardFace:
    """What one printed supervisor card shows (local dates: the caller converts)."""

    card_text: str
    holder_name: str
    community_name: str
    valid_from: dt.date
    valid_until: dt.date
    short_id: str


def render_supervisor_card_png(
    face: SupervisorCardFace, *, dpi: int = 300, font_path: Path | None = None
) -> bytes:
    """One card as PNG bytes at ``dpi`` (1063 x 756 px at 300), carrying its dpi."""
    if dpi < 72:
        raise ValueError("dpi must be at least 72 for a scannable QR")
    scale = dpi / 25.4
    size = (round(CARD_WIDTH_MM * scale), round(CARD_HEIGHT_MM * scale))
    image = Image.new("RGB", size, _WHITE)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, size[0] - 1, size[1] - 1], outline="#9E9E9E", width=max(1, dpi // 150))
    font = find_cjk_font(font_path)
    band = [2 * scale, 2 * scale, (CARD_WIDTH_MM - 2) * scale, 13 * scale]
    draw.rounded_rectangle(band, radius=1.6 * scale, fill=_BLUE)
    text = _Writer(draw, scale, font)
    text.put(5, 10.3, "主管卡", 17, _WHITE, bold=True)
    text.put(CARD_WIDTH_MM - 5.5, 9.4, face.community_name, 9.5, _WHITE, anchor="rs", width=52)
    _draw_qr(draw, qr_modules(face.card_text), 2 * scale, 14.5 * scale, QR_BOX_MM * scale)
    column, room = 48.0, CARD_WIDTH_MM - 48.0 - 4.0
    text.put(column, 19, "持卡人", 6.5, _GREY)
    text.put(column, 27.2, face.holder_name, 18, _INK, bold=True, width=room)
    text.put(column, 39, "有效期", 6.5, _GREY)
    period = f"{face.valid_from.isoformat()} 至 {face.valid_until.isoformat()}"
    text.put(column, 43.2, period, 8.5, _INK, bold=True, width=room)
    text.put(column, 50, "卡号", 6.5, _GREY)
    text.put(column, 55.4, face.short_id, 11, _INK, bold=True, width=room)
    text.put(24, 61, "仅限本人放行使用，遗失请立即到社区作废", 5.5, _GREY, anchor="ms", width=44)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def render_supervisor_card_pdf(face: SupervisorCardFace, *, font_path: Path | None = None) -> bytes:
    """The card on an A4 page, centred at its true size, ready to print and cut."""
    png = render_supervisor_card_png(face, dpi=300, font_path=font_path)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.setTitle(f"主管卡 {face.short_id}")
    left = (A4[0] - CARD_WIDTH_MM * mm) / 2
    bottom = (A4[1] - CARD_HEIGHT_MM * mm) / 2
    canvas.drawImage(
        ImageReader(io.BytesIO(png)), left, bottom, CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
    )
    canvas.showPage()
    canvas.save()
    return out.getvalue()


class _Writer:
    """Text at positions in mm (baselines), fitted into ``width`` mm when given."""

    def __init__(self, draw: ImageDraw.ImageDraw, scale: float, font: Path | None) -> None:
        self._draw, self._scale, self._font = draw, scale, font

    def put(
        self,
        x: float,
        baseline: float,
        text: str,
        size_pt: float,
        color: str,
        *,
        bold: bool = False,
        anchor: str = "ls",
        width: float | None = None,
    ) -> None:
        size_px = max(6, round(size_pt / 72 * 25.4 * self._scale))
        font = _font(self._font, size_px)
        length = font.getlength(text)
        if width is not None and length > width * self._scale:
            size_px = max(6, int(size_px * width * self._scale / length))
            font = _font(self._font, size_px)
        xy = (x * self._scale, baseline * self._scale)
        if isinstance(font, ImageFont.FreeTypeFont):
            stroke = max(1, round(size_px * 0.03)) if bold else 0
            self._draw.text(
                xy,
                text,
                fill=color,
                font=font,
                anchor=anchor,
                stroke_width=stroke,
                stroke_fill=color,
            )
        else:  # a bitmap font takes no anchor: place the top-left corner by hand
            self._draw.text((xy[0], xy[1] - size_px), text, fill=color, font=font)


@lru_cache(maxsize=32)
def _font(path: Path | None, size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size_px, index=subfont_index(path))
        except OSError:
            pass  # unreadable font file: fall back rather than fail to print
    return ImageFont.load_default(size=size_px)


def _draw_qr(
    draw: ImageDraw.ImageDraw, modules: tuple[tuple[bool, ...], ...], x: float, y: float, box: float
) -> None:
    total = len(modules) + 2 * QUIET_ZONE_MODULES
    module = max(1, int(box) // total)  # whole pixels per module: decoders like even modules
    left = round(x) + (int(box) - module * total) // 2 + QUIET_ZONE_MODULES * module
    top = round(y) + (int(box) - module * total) // 2 + QUIET_ZONE_MODULES * module
    for row, line in enumerate(modules):
        for column, dark in enumerate(line):
            if dark:
                x0, y0 = left + column * module, top + row * module
                draw.rectangle([x0, y0, x0 + module - 1, y0 + module - 1], fill="#000000")
