"""The verdict screen at the gate: what to show (`Screen`), how it looks (`render_screen`), where.

Read from two metres by an elderly volunteer in gloves: one full-screen colour per kind, a huge
headline with a shape beside it (tick, cross, ring, triangle: colour is not the only signal), one
reason line, then smaller lines for the household, temperature and next allowed outing, and a
status strip on top saying online/offline. A ``prompt`` screen (deep blue) asks the volunteer
for something: the temperature being typed, shown big, or the override reason list.

Where screens go (a full-screen window, JSON lines, PNG files) is `scanner.window`; this
module only draws.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

ScreenKind = Literal["allow", "refuse", "remeasure", "idle", "fault", "prompt"]
Lang = Literal["zh", "en"]
RGB = tuple[int, int, int]
AnyFont = ImageFont.FreeTypeFont | ImageFont.ImageFont

DEFAULT_HEADLINES: Final[dict[ScreenKind, dict[Lang, str]]] = {
    "allow": {"zh": "通过", "en": "ALLOWED"},
    "refuse": {"zh": "禁止", "en": "REFUSED"},
    "remeasure": {"zh": "请复测", "en": "RE-MEASURE"},
    "idle": {"zh": "请出示出入证", "en": "SHOW YOUR PASS"},
    "fault": {"zh": "设备故障", "en": "DEVICE FAULT"},
    "prompt": {"zh": "请输入", "en": "PLEASE ENTER"},
}
BACKGROUNDS: Final[dict[ScreenKind, RGB]] = {
    "allow": (0x1B, 0x8A, 0x3A),
    "refuse": (0xC6, 0x28, 0x28),
    "remeasure": (0xF9, 0xA8, 0x25),
    "idle": (0x1E, 0x2A, 0x32),
    "fault": (0x1A, 0x1A, 0x1A),
    "prompt": (0x0D, 0x3B, 0x8C),
}
_WHITE: Final = (255, 255, 255)
_INK: Final = (0x21, 0x21, 0x21)  # dark text on amber: white on amber is unreadable outdoors
_AMBER: Final = (0xFF, 0xB3, 0x00)

# (path, face index) in order of preference; index 2 of Noto CJK collections is Simplified Chinese.
CJK_FONT_CANDIDATES: Final[tuple[tuple[Path, int], ...]] = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),
)


@dataclass(frozen=True)
class Screen:
    """What the gate screen shows. Text fields are ready to display and MAY be empty.

    ``label`` MUST already be masked (``3-2-401 张*``): the screen faces the street. An empty
    ``headline`` is replaced by the default for ``kind`` and ``lang`` (`DEFAULT_HEADLINES`).
    ``banner`` is the status strip text (e.g. ``离线 · 数据包 12 分钟前``); empty means a plain
    online/offline word. ``lines`` (a prompt's choices) are drawn under a smaller headline.
    """

    kind: ScreenKind
    headline: str = ""
    reason: str = ""
    label: str = ""
    next_exit: str = ""
    temperature: str = ""
    online: bool = True
    banner: str = ""
    lang: Lang = "zh"
    lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in get_args(ScreenKind):
            raise ValueError(f"unknown screen kind {self.kind!r}")
        if self.lang not in get_args(Lang):
            raise ValueError(f"unknown language {self.lang!r}")
        if not self.headline:
            object.__setattr__(self, "headline", DEFAULT_HEADLINES[self.kind][self.lang])

    @property
    def status_text(self) -> str:
        """The status strip text: ``banner`` or the online/offline word."""
        if self.banner:
            return self.banner
        words = {("zh", True): "● 在线", ("zh", False): "● 离线", ("en", True): "● ONLINE"}
        return words.get((self.lang, self.online), "● OFFLINE")


# --- fonts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fonts:
    path: Path | None
    index: int = 0

    @property
    def has_cjk(self) -> bool:
        return self.path is not None

    def get(self, size: int) -> AnyFont:
        return _load_font(self.path, self.index, max(size, 8))


def find_cjk_font(
    candidates: Sequence[tuple[Path, int]] = CJK_FONT_CANDIDATES,
) -> tuple[Path, int] | None:
    """The first candidate font file that exists and loads, or None."""
    for path, index in candidates:
        if path.is_file():
            try:
                ImageFont.truetype(str(path), 12, index=index)
            except OSError:
                continue
            return path, index
    return None


@lru_cache(maxsize=8)
def _fonts_for(candidates: tuple[tuple[Path, int], ...]) -> _Fonts:
    found = find_cjk_font(candidates)
    if found is None:
        log.warning(
            "no CJK font found (install fonts-wqy-microhei or fonts-noto-cjk); the gate screen"
            " falls back to English headlines and a Latin font"
        )
        return _Fonts(None)
    return _Fonts(*found)


@lru_cache(maxsize=64)
def _load_font(path: Path | None, index: int, size: int) -> AnyFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(path), size, index=index)


# --- rendering -------------------------------------------------------------------------------


# Symbols some CJK fonts (wqy-microhei) lack: they would render as nothing.
_DISPLAY_SUBSTITUTES: Final = str.maketrans({"℃": "°C", "℉": "°F"})


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: AnyFont, stroke: int = 0) -> float:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    return right - left


def _fitted(
    draw: ImageDraw.ImageDraw, text: str, fonts: _Fonts, size: int, max_width: float
) -> tuple[AnyFont, str]:
    """A font at ``size`` or down to 40 % of it, and ``text`` cut with "…" if it still does not
    fit in ``max_width`` pixels (a line too long to read from the gate is better cut than tiny)."""
    smallest = max(12, int(size * 0.4))
    font = fonts.get(size)
    width = _text_width(draw, text, font)
    while width > max_width and size > smallest:
        size = max(smallest, int(size * max_width / width) - 1)
        font = fonts.get(size)
        width = _text_width(draw, text, font)
    shown = text
    while width > max_width and len(shown) > 1:
        shown = shown[:-2] + "…"
        width = _text_width(draw, shown, font)
    return font, shown


def _draw_icon(
    draw: ImageDraw.ImageDraw, kind: ScreenKind, box: tuple[float, ...], ink: RGB
) -> None:
    """Draw the kind's shape inside the square ``box`` (left, top, right, bottom)."""
    x0, y0, x1, y1 = box
    s = x1 - x0
    w = max(int(s * 0.17), 3)
    if kind == "allow":
        points = [
            (x0 + s * 0.08, y0 + s * 0.55),
            (x0 + s * 0.38, y0 + s * 0.85),
            (x1 - s * 0.05, y0 + s * 0.18),
        ]
        draw.line(points, fill=ink, width=w, joint="curve")
    elif kind == "refuse":
        m = s * 0.12
        draw.line([(x0 + m, y0 + m), (x1 - m, y1 - m)], fill=ink, width=w)
        draw.line([(x0 + m, y1 - m), (x1 - m, y0 + m)], fill=ink, width=w)
    elif kind == "remeasure":
        draw.ellipse(box, outline=ink, width=max(w // 2, 3))
        cx = (x0 + x1) / 2
        draw.line([(cx, y0 + s * 0.2), (cx, y0 + s * 0.6)], fill=ink, width=w // 2 + 2)
        r = s * 0.07
        draw.ellipse((cx - r, y0 + s * 0.72 - r, cx + r, y0 + s * 0.72 + r), fill=ink)
    elif kind == "fault":
        draw.polygon([(x0 + s / 2, y0), (x1, y1), (x0, y1)], outline=ink, width=max(w // 2, 3))
        cx = (x0 + x1) / 2
        draw.line([(cx, y0 + s * 0.32), (cx, y0 + s * 0.7)], fill=ink, width=w // 2 + 2)
        r = s * 0.065
        draw.ellipse((cx - r, y0 + s * 0.83 - r, cx + r, y0 + s * 0.83 + r), fill=ink)


def _draw_headline(
    draw: ImageDraw.ImageDraw,
    screen: Screen,
    text: str,
    fonts: _Fonts,
    *,
    ink: RGB,
    size: tuple[int, int],
) -> None:
    width, height = size
    big = screen.kind != "idle" and not screen.lines
    font_size = int(height * (0.30 if big else 0.16))
    icon = font_size * 0.8 if big and screen.kind != "prompt" else 0.0
    gap = icon * 0.35
    font, text = _fitted(draw, text, fonts, font_size, width * 0.92 - icon - gap)
    text_w = _text_width(draw, text, font)
    left = (width - (icon + gap + text_w)) / 2
    cy = height * (0.37 if big else (0.22 if screen.lines else 0.40))
    if icon:
        _draw_icon(draw, screen.kind, (left, cy - icon / 2, left + icon, cy + icon / 2), ink)
    stroke = max(int(font.size / 40), 1) if isinstance(font, ImageFont.FreeTypeFont) else 0
    draw.text(
        (left + icon + gap, cy),
        text,
        font=font,
        fill=ink,
        anchor="lm",
        stroke_width=stroke,
        stroke_fill=ink,
    )


def render_screen(
    screen: Screen,
    size: tuple[int, int] = (1280, 720),
    *,
    font_candidates: Sequence[tuple[Path, int]] = CJK_FONT_CANDIDATES,
) -> npt.NDArray[np.uint8]:
    """Render ``screen`` as a BGR ``uint8`` image of shape ``(height, width, 3)``; ``size=(w, h)``.

    Never raises for missing fonts: without a CJK font it logs one warning, uses Pillow's Latin
    font and replaces a non-ASCII headline by the English default for the kind.
    """
    width, height = size
    fonts = _fonts_for(tuple(font_candidates))
    background = BACKGROUNDS[screen.kind]
    ink: RGB = _INK if screen.kind == "remeasure" else _WHITE
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)

    headline = screen.headline.translate(_DISPLAY_SUBSTITUTES)
    if not fonts.has_cjk and not headline.isascii():
        headline = DEFAULT_HEADLINES[screen.kind]["en"]

    # Status strip: quiet when online, black with amber text when offline or faulty.
    strip_h = int(height * 0.09)
    alarming = not screen.online or screen.kind == "fault"
    strip_bg = (0, 0, 0) if alarming else tuple(int(c * 0.75) for c in background)
    strip_ink = _AMBER if alarming else ink
    draw.rectangle((0, 0, width, strip_h), fill=strip_bg)
    status = screen.status_text
    if not fonts.has_cjk and not status.isascii():
        status = "ONLINE" if screen.online else "OFFLINE"
    status_font, status = _fitted(draw, status, fonts, int(strip_h * 0.6), width * 0.94)
    draw.text(
        (width * 0.03, strip_h / 2),
        status,
        font=status_font,
        fill=strip_ink,
        anchor="lm",
    )

    if screen.kind == "fault":  # a thick amber frame tells a fault from the idle screen
        border = int(height * 0.025)
        draw.rectangle((0, strip_h, width - 1, height - 1), outline=_AMBER, width=border)
    head_ink = _AMBER if screen.kind == "fault" else ink
    _draw_headline(draw, screen, headline, fonts, ink=head_ink, size=size)

    lines: list[tuple[str, float, float]] = []  # (text, font size / height, centre y / height)
    if screen.lines:  # a prompt's choices: reason under the headline, then one line each
        if screen.reason:
            lines.append((screen.reason, 0.07, 0.35))
        step = min(0.13, 0.5 / len(screen.lines))
        lines.extend(
            (line, min(0.09, step * 0.75), 0.47 + step * (i + 0.5))
            for i, line in enumerate(screen.lines)
        )
    elif screen.reason:
        lines.append((screen.reason, 0.085, 0.64))
    details = "      ".join(t for t in (screen.label, screen.temperature) if t)
    if details:
        lines.append((details, 0.065, 0.77))
    if screen.next_exit:
        lines.append((screen.next_exit, 0.065, 0.88))
    for raw, rel_size, rel_y in lines:
        text = raw.translate(_DISPLAY_SUBSTITUTES)
        font, text = _fitted(draw, text, fonts, int(height * rel_size), width * 0.92)
        draw.text((width / 2, height * rel_y), text, font=font, fill=ink, anchor="mm")

    rgb = np.asarray(image, dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])
