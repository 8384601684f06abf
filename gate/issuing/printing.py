"""Printed household passes: A4 sheets of cut-out cards (PDF) and single cards (PNG).

A card carries the signed pass QR and what a volunteer or resident needs to read by eye: the
household code, the address (building/unit/room, never a name), the validity dates, the outing
rule and a short manual code for typing at the gate when a QR will not scan. Both renderers
draw the same layout (``_card_layout``, in millimetres from the card's top-left corner), so the
PDF and the PNG cannot drift apart.

Sheets are A4 portrait, 2 columns x 4 rows of 90 x 64 mm cards with grey dashed cut lines and
crop marks in the margins. The pass QR is vector rectangles with its 4-module quiet zone inside
the card, 44 mm across including the quiet zone (about 37.8 mm of symbol for a version-8 pass).

Chinese text uses the font found by ``gate.fonts.find_cjk_font`` (embedded and subset in the
PDF). Without one, the PDF falls back to the non-embedded CID font ``STSong-Light`` (viewers
substitute a Song face) and the PNG to Pillow's default Latin font (Chinese shows as boxes).
"""

from __future__ import annotations

import datetime as dt
import io
import operator
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Literal

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from gate.fonts import find_cjk_font, subfont_index
from passes.qr import QUIET_ZONE_MODULES, qr_symbol

CARD_WIDTH_MM = 90.0
CARD_HEIGHT_MM = 64.0
SHEET_COLUMNS = 2
SHEET_ROWS = 4
CARDS_PER_SHEET = SHEET_COLUMNS * SHEET_ROWS
PASS_QR_BOX_MM = 44.0
"""Side of the pass QR including its quiet zone."""
LINK_QR_BOX_MM = 16.0
"""Side of the optional phone-pass link QR including its quiet zone."""

_PAGE_WIDTH_MM = A4[0] / mm
_PAGE_HEIGHT_MM = A4[1] / mm
_SHEET_MARGIN_X_MM = (_PAGE_WIDTH_MM - SHEET_COLUMNS * CARD_WIDTH_MM) / 2
_SHEET_MARGIN_Y_MM = (_PAGE_HEIGHT_MM - SHEET_ROWS * CARD_HEIGHT_MM) / 2
_FALLBACK_PDF_FONT = "STSong-Light"
_STATIC_FORM = "CheckpointCardStatic"
_DECIMALS = tuple(str(number) for number in range(178))  # a QR is at most 177 modules wide
_COLUMN_X = 48.0  # left edge of the text column, mm
_RIGHT_X = CARD_WIDTH_MM - 4.0  # right edge of the content, mm

_RED = "#B3261E"
_INK = "#1A1A1A"
_GREY = "#6B6B6B"
_CUT_GREY = "#9E9E9E"
_WHITE = "#FFFFFF"


@dataclass(frozen=True, slots=True)
class Card:
    """What one printed card shows. Deliberately no personal data: no names, ids or phones.

    ``valid_from``/``valid_until`` are local calendar dates (the caller converts from UTC).
    """

    pass_text: str
    household_code: str
    address_line: str
    community_name: str
    valid_from: dt.date
    valid_until: dt.date
    rule_line: str
    manual_code: str
    resident_link_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("valid_from", "valid_until"):
            if isinstance(getattr(self, name), dt.datetime):
                raise TypeError(f"Card.{name} must be a local date, not a datetime")
        if self.valid_until < self.valid_from:
            raise ValueError("Card.valid_until is before valid_from")
        if not self.pass_text or not self.manual_code:
            raise ValueError("Card needs a pass_text and a manual_code")


def qr_symbol_width_mm(text: str) -> float:
    """Printed width of the QR symbol for ``text`` on a card, quiet zone excluded."""
    size = qr_symbol(text).size
    return PASS_QR_BOX_MM * size / (size + 2 * QUIET_ZONE_MODULES)


# --- layout: one list of drawing items per card, shared by both renderers ----------------


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    fill: str
    radius: float = 0.0


@dataclass(frozen=True, slots=True)
class _Line:
    x1: float
    y: float
    x2: float
    color: str
    width_pt: float


@dataclass(frozen=True, slots=True)
class _Text:
    x: float
    baseline: float
    text: str
    size_pt: float
    color: str = _INK
    bold: bool = False
    align: Literal["left", "right", "center"] = "left"
    max_width: float | None = None


@dataclass(frozen=True, slots=True)
class _Qr:
    x: float
    y: float
    box: float
    rows: tuple[str, ...]
    """The symbol's rows, '1' for a dark module (``passes.qr.qr_symbol``)."""


_Item = _Box | _Line | _Text | _Qr


def _static_layout() -> list[_Item]:
    """What every card shows whatever its household: drawn once per PDF as a form."""
    return [
        _Box(2.0, 2.0, CARD_WIDTH_MM - 4.0, 11.0, _RED, radius=1.6),
        _Text(5.0, 10.3, "出入证", 17, _WHITE, bold=True),
        _Text(24.0, 61.0, "本证仅限本户使用，遗失请到社区挂失", 5.5, _GREY, align="center"),
        _Text(_COLUMN_X, 19.0, "户号", 6.5, _GREY),
        _Line(_COLUMN_X, 35.0, _RIGHT_X, "#D0D0D0", 0.5),
        _Text(_COLUMN_X, 39.0, "有效期", 6.5, _GREY),
        _Text(_COLUMN_X, 54.0, "人工核验码", 6.5, _GREY),
    ]


def _card_layout(card: Card) -> list[_Item]:
    """The card's own drawing items in mm from its top-left corner, y downwards."""
    col, right = _COLUMN_X, _RIGHT_X
    lower_right = right  # the rule and manual code make room for the link QR, if any
    items: list[_Item] = [
        _Text(right - 0.5, 9.4, card.community_name, 9.5, _WHITE, align="right", max_width=52),
        _Qr(2.0, 14.5, PASS_QR_BOX_MM, qr_symbol(card.pass_text).rows),
        _Text(col, 27.2, card.household_code, 22, bold=True, max_width=right - col),
        _Text(col, 32.4, card.address_line, 9, max_width=right - col),
        _Text(
            col,
            43.2,
            f"{card.valid_from.isoformat()} 至 {card.valid_until.isoformat()}",
            8.5,
            bold=True,
            max_width=right - col,
        ),
    ]
    if card.resident_link_url is not None:
        link_x = right - LINK_QR_BOX_MM + 1.5  # its quiet zone may reach into the margin
        lower_right = link_x
        items += [
            _Qr(link_x, 44.0, LINK_QR_BOX_MM, qr_symbol(card.resident_link_url).rows),
            _Text(link_x + LINK_QR_BOX_MM / 2, 61.6, "手机出示", 5.5, _GREY, align="center"),
        ]
    items += [
        _Text(col, 48.6, card.rule_line, 8.5, _RED, bold=True, max_width=lower_right - col),
        _Text(col, 59.4, card.manual_code, 11, bold=True, max_width=lower_right - col),
    ]
    return items


def _qr_runs(rows: tuple[str, ...]) -> list[int]:
    """Horizontal runs of dark modules, flattened: [column, row, length, column, row, ...].

    Row 0 is the top. One rectangle per run rather than per module keeps the PDF small; the
    runs are filled as one path, so viewers show no hairline seams between them. The runs are
    found by the regex engine, row by row, not module by module in Python.
    """
    runs: list[int] = []
    for row_index, row in enumerate(rows):
        for match in _DARK_RUN.finditer(row):
            start, end = match.span()
            runs += (start, row_index, end - start)
    return runs


_DARK_RUN = re.compile("1+")


# --- PDF -----------------------------------------------------------------------------------


def render_card_sheets_pdf(
    cards: Iterable[Card],
    out: BinaryIO,
    *,
    on_progress: Callable[[int], None] | None = None,
    font_path: Path | None = None,
) -> int:
    """Write A4 sheets of cut-out cards to ``out`` and return the number of pages.

    Cards are pulled lazily, at most one ahead of the sheet being drawn, and each finished
    sheet is deflated at once, on a helper thread (about 14 KB kept per sheet). reportlab
    assembles the file in memory at save(), so the peak is roughly 3x the output size: about
    10 MB for 2,000 cards, a 17 MB file for 10,000 (measured: 55 MiB above start-up).
    ``on_progress`` is called after each sheet with the running count of cards drawn.
    ``font_path`` overrides font discovery (``FileNotFoundError`` if missing).
    An empty ``cards`` raises ``ValueError`` and writes nothing.
    """
    card_iter = iter(cards)
    first = next(card_iter, None)
    if first is None:
        raise ValueError("no cards to print")
    font_name = _pdf_font(font_path)
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{first.community_name} 出入证")
    canvas.setSubject("Household entry/exit passes (出入证), A4 cut-out sheets")
    canvas.setCreator("Checkpoint")
    canvas.setAuthor(first.community_name)
    _define_static_form(canvas, font_name)

    count = 0
    pages = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-pdf-deflate") as pool:
        deflater = _PageDeflater(pool)
        for count, card in enumerate(_chain_first(first, card_iter), start=1):
            slot = (count - 1) % CARDS_PER_SHEET
            if slot == 0:
                if pages:
                    _finish_sheet(canvas, pages, deflater)
                    if on_progress is not None:
                        on_progress(count - 1)
                pages += 1
            _draw_card_on_sheet(canvas, card, slot, font_name)
        _finish_sheet(canvas, pages, deflater)
        deflater.flush()
    canvas.save()
    if on_progress is not None:
        on_progress(count)
    return pages


def _chain_first(first: Card, rest: Iterator[Card]) -> Iterator[Card]:
    yield first
    yield from rest


@lru_cache(maxsize=4)
def _register_ttf(path: Path, index: int) -> str:
    name = f"CheckpointCJK-{path.stem}-{index}"
    pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=index))
    return name


def _pdf_font(font_path: Path | None) -> str:
    """A registered reportlab font name that can draw Chinese."""
    path = find_cjk_font(font_path)
    if path is not None:
        try:
            return _register_ttf(path, subfont_index(path))
        except TTFError:
            pass  # CFF-outline fonts (Noto CJK) cannot be embedded by reportlab
    if _FALLBACK_PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_FALLBACK_PDF_FONT))
    return _FALLBACK_PDF_FONT


def _draw_card_on_sheet(canvas: Canvas, card: Card, slot: int, font_name: str) -> None:
    column, row = slot % SHEET_COLUMNS, slot // SHEET_COLUMNS
    left = (_SHEET_MARGIN_X_MM + column * CARD_WIDTH_MM) * mm
    top = (_PAGE_HEIGHT_MM - _SHEET_MARGIN_Y_MM - row * CARD_HEIGHT_MM) * mm
    canvas.saveState()
    canvas.setStrokeColor(_pdf_color(_CUT_GREY))
    canvas.setLineWidth(0.3)
    canvas.setDash(2, 2)
    canvas.rect(left, top - CARD_HEIGHT_MM * mm, CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm)
    canvas.restoreState()
    canvas.saveState()
    canvas.translate(left, top - CARD_HEIGHT_MM * mm)
    canvas.doForm(_STATIC_FORM)
    canvas.restoreState()
    for item in _card_layout(card):
        _draw_pdf_item(canvas, item, left, top, font_name)


def _define_static_form(canvas: Canvas, font_name: str) -> None:
    """The labels every card shares, as one form XObject drawn by reference on each card."""
    width, height = CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
    canvas.beginForm(_STATIC_FORM, 0, 0, width, height)
    canvas.setDash()  # a form inherits the caller's graphics state: start from solid lines
    for item in _static_layout():
        _draw_pdf_item(canvas, item, 0, height, font_name)
    canvas.endForm()


@lru_cache(maxsize=32)
def _pdf_color(hex_rgb: str) -> Color:
    return HexColor(hex_rgb)


def _draw_pdf_item(canvas: Canvas, item: _Item, left: float, top: float, font: str) -> None:
    match item:
        case _Box():
            canvas.setFillColor(_pdf_color(item.fill))
            x, y = left + item.x * mm, top - (item.y + item.h) * mm
            canvas.roundRect(x, y, item.w * mm, item.h * mm, item.radius * mm, stroke=0, fill=1)
        case _Line():
            canvas.setStrokeColor(_pdf_color(item.color))
            canvas.setLineWidth(item.width_pt)
            y = top - item.y * mm
            canvas.line(left + item.x1 * mm, y, left + item.x2 * mm, y)
        case _Text():
            _draw_pdf_text(canvas, item, left, top, font)
        case _Qr():
            canvas.addLiteral(_pdf_qr_ops(item, left, top))


def _draw_pdf_text(canvas: Canvas, item: _Text, left: float, top: float, font: str) -> None:
    size = item.size_pt
    width = pdfmetrics.stringWidth(item.text, font, size)
    if item.max_width is not None and width > item.max_width * mm:
        size *= item.max_width * mm / width
        width = item.max_width * mm
    x = left + item.x * mm
    if item.align == "right":
        x -= width
    elif item.align == "center":
        x -= width / 2
    text = canvas.beginText(x, top - item.baseline * mm)
    text.setFont(font, size)
    text.setFillColor(_pdf_color(item.color))
    if item.bold:
        # wqy-microhei has no bold face: stroke the outlines to embolden them.
        text.setStrokeColor(_pdf_color(item.color))
        text.setTextRenderMode(2)
    text.textOut(item.text)
    canvas.saveState()  # render mode and line width are graphics state: keep them local
    canvas.setLineWidth(size * 0.03)
    canvas.drawText(text)
    canvas.restoreState()


def _pdf_qr_ops(item: _Qr, left: float, top: float) -> str:
    """PDF operators filling the dark modules, in a module-unit coordinate system."""
    size = len(item.rows)
    module = item.box * mm / (size + 2 * QUIET_ZONE_MODULES)
    x0 = left + item.x * mm + QUIET_ZONE_MODULES * module
    y_top = top - item.y * mm - QUIET_ZONE_MODULES * module
    # The matrix flips y so that rows count downwards from the symbol's top.
    return (
        f"q {module:.4f} 0 0 {-module:.4f} {x0:.3f} {y_top:.3f} cm 0 g\n"
        f"{_pdf_qr_rects(item.rows)}f Q"
    )


def _pdf_qr_rects(rows: tuple[str, ...]) -> str:
    """``x y w 1 re`` for each horizontal dark run of each row (y = row, 0 at the top).

    Each row is cut into bytes of 8 modules and each byte looked up in a table of its runs'
    operators (``_chunk_rects``), so the work per row is a few C calls, not one Python step
    per run. A run that crosses a byte boundary becomes two abutting rectangles; all of them
    are filled as one path, so that leaves no seam.
    """
    if not rows:
        return ""
    pad = "0" * (-len(rows[0]) % 8)
    chunks = (len(rows[0]) + len(pad)) // 8
    tables = _chunk_rects()[:chunks]
    lines = []
    for index, row in enumerate(rows):
        packed = int(row + pad, 2).to_bytes(chunks, "big")
        lines.append("".join(map(operator.getitem, tables, packed)).replace("Y", _DECIMALS[index]))
    return "".join(lines)


@lru_cache(maxsize=1)
def _chunk_rects() -> tuple[tuple[str, ...], ...]:
    """For byte ``k`` of a row (modules ``8k`` to ``8k + 7``, leftmost in the high bit) and
    its value, the operators of its dark runs, with ``Y`` standing for the row number."""
    tables = []
    for chunk in range(_MAX_ROW_BYTES):
        table = []
        for value in range(256):
            runs = _DARK_RUN.finditer(format(value, "08b"))
            table.append(
                "".join(
                    f"{8 * chunk + run.start()} Y {run.end() - run.start()} 1 re\n" for run in runs
                )
            )
        tables.append(tuple(table))
    return tuple(tables)


_MAX_ROW_BYTES = 23  # 177 modules, the widest symbol (version 40), in bytes of 8


def _finish_sheet(canvas: Canvas, page_number: int, deflater: _PageDeflater) -> None:
    _draw_crop_marks(canvas)
    canvas.setFont("Helvetica", 6.5)
    canvas.setFillColor(_pdf_color(_GREY))
    canvas.drawCentredString(
        _PAGE_WIDTH_MM / 2 * mm, _SHEET_MARGIN_Y_MM / 2 * mm, f"- {page_number} -"
    )
    canvas.showPage()
    deflater.submit(canvas)


def _draw_crop_marks(canvas: Canvas) -> None:
    canvas.saveState()
    canvas.setStrokeColor(_pdf_color("#000000"))
    canvas.setLineWidth(0.25)
    x_left, y_bottom = _SHEET_MARGIN_X_MM, _SHEET_MARGIN_Y_MM
    x_right = _PAGE_WIDTH_MM - _SHEET_MARGIN_X_MM
    y_top = _PAGE_HEIGHT_MM - _SHEET_MARGIN_Y_MM
    gap, length = 2.0, 6.0
    for column in range(SHEET_COLUMNS + 1):
        x = (x_left + column * CARD_WIDTH_MM) * mm
        canvas.line(x, (y_top + gap) * mm, x, (y_top + gap + length) * mm)
        canvas.line(x, (y_bottom - gap) * mm, x, (y_bottom - gap - length) * mm)
    for row in range(SHEET_ROWS + 1):
        y = (y_bottom + row * CARD_HEIGHT_MM) * mm
        canvas.line((x_left - gap) * mm, y, (x_left - gap - length) * mm, y)
        canvas.line((x_right + gap) * mm, y, (x_right + gap + length) * mm, y)
    canvas.restoreState()


class _PageDeflater:
    """Deflates each finished sheet's content stream now rather than when the file is saved.

    reportlab keeps every page's content stream as text until ``save()``; compressing each
    sheet as it is finished keeps a 10,000-card run to a few MB. The deflate runs on a helper
    thread while the next sheet is drawn (zlib releases the GIL, so on two cores it costs the
    drawing nothing), with at most one sheet in flight. This reaches into reportlab
    internals, so it does nothing (output stays correct, memory just grows) if they change.
    """

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._pending: tuple[Any, Future[bytes]] | None = None

    def submit(self, canvas: Canvas) -> None:
        """Start deflating the page just finished (after finishing the one before)."""
        self.flush()
        pages = getattr(getattr(getattr(canvas, "_doc", None), "Pages", None), "pages", None)
        if not pages:
            return
        page = pages[-1]
        stream = getattr(page, "stream", None)
        if not isinstance(stream, str) or getattr(page, "Contents", None):
            return
        # As reportlab's own Flate filter: the text as UTF-8, zlib's default level.
        self._pending = (page, self._pool.submit(zlib.compress, stream.encode("utf-8")))

    def flush(self) -> None:
        """Wait for the sheet in flight, if any, and give reportlab its deflated stream."""
        if self._pending is None:
            return
        page, future = self._pending
        self._pending = None
        contents = pdfdoc.PDFStream(
            dictionary=pdfdoc.PDFDictionary({"Filter": pdfdoc.PDFName("FlateDecode")}),
            content=future.result(),
        )
        contents.__Comment__ = "page stream"
        page.Contents = contents
        page.stream = None


# --- PNG -----------------------------------------------------------------------------------


def render_card_png(card: Card, *, dpi: int = 300, font_path: Path | None = None) -> bytes:
    """One card as PNG bytes, ``dpi`` pixels per inch (90 x 64 mm; 1063 x 756 px at 300).

    Uses the CJK font from ``gate.fonts`` (or ``font_path``); without one, Pillow's default
    font draws the Latin text and Chinese shows as boxes. The image carries its dpi.
    """
    if dpi < 72:
        raise ValueError("dpi must be at least 72 for a scannable QR")
    px_per_mm = dpi / 25.4
    size = (round(CARD_WIDTH_MM * px_per_mm), round(CARD_HEIGHT_MM * px_per_mm))
    image = Image.new("RGB", size, _WHITE)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, size[0] - 1, size[1] - 1], outline=_CUT_GREY, width=max(1, dpi // 150))
    path = find_cjk_font(font_path)
    for item in [*_static_layout(), *_card_layout(card)]:
        _draw_png_item(draw, item, px_per_mm, path)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


_PilFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=64)
def _pil_font(path: Path | None, size_px: int) -> _PilFont:
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size_px, index=subfont_index(path))
        except OSError:
            pass  # unreadable or unsupported file: fall back rather than fail to print
    return ImageFont.load_default(size=size_px)


def _draw_png_item(draw: ImageDraw.ImageDraw, item: _Item, scale: float, font: Path | None) -> None:
    match item:
        case _Box():
            box = [
                item.x * scale,
                item.y * scale,
                (item.x + item.w) * scale,
                (item.y + item.h) * scale,
            ]
            draw.rounded_rectangle(box, radius=item.radius * scale, fill=item.fill)
        case _Line():
            width = max(1, round(item.width_pt / 72 * 25.4 * scale))
            y = item.y * scale
            draw.line([(item.x1 * scale, y), (item.x2 * scale, y)], fill=item.color, width=width)
        case _Text():
            _draw_png_text(draw, item, scale, font)
        case _Qr():
            _draw_png_qr(draw, item, scale)


def _draw_png_text(draw: ImageDraw.ImageDraw, item: _Text, scale: float, path: Path | None) -> None:
    size_px = max(6, round(item.size_pt / 72 * 25.4 * scale))
    font = _pil_font(path, size_px)
    width = font.getlength(item.text)
    if item.max_width is not None and width > item.max_width * scale:
        size_px = max(6, int(size_px * item.max_width * scale / width))
        font = _pil_font(path, size_px)
    anchor = {"left": "ls", "right": "rs", "center": "ms"}[item.align]
    stroke = max(1, round(size_px * 0.03)) if item.bold else 0
    xy = (item.x * scale, item.baseline * scale)
    if isinstance(font, ImageFont.FreeTypeFont):
        draw.text(
            xy,
            item.text,
            fill=item.color,
            font=font,
            anchor=anchor,
            stroke_width=stroke,
            stroke_fill=item.color,
        )
    else:  # bitmap fonts take no anchor: place the top-left corner by hand
        draw.text((xy[0], xy[1] - size_px), item.text, fill=item.color, font=font)


def _draw_png_qr(draw: ImageDraw.ImageDraw, item: _Qr, scale: float) -> None:
    # Whole pixels per module: uneven module widths cost decoders accuracy.
    total = len(item.rows) + 2 * QUIET_ZONE_MODULES
    box_px = round(item.box * scale)
    module = max(1, box_px // total)
    x0 = round(item.x * scale) + (box_px - module * total) // 2 + QUIET_ZONE_MODULES * module
    y0 = round(item.y * scale) + (box_px - module * total) // 2 + QUIET_ZONE_MODULES * module
    runs = _qr_runs(item.rows)
    for column, row, length in zip(runs[::3], runs[1::3], runs[2::3], strict=True):
        left, top = x0 + column * module, y0 + row * module
        draw.rectangle([left, top, left + length * module - 1, top + module - 1], fill="#000000")
