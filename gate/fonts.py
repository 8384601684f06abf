"""Find a font file that draws Simplified Chinese, for PDF cards and PNG images.

Pure file-system lookup: no environment reads, no fontconfig. A caller that knows better (a
CLI ``--font`` option, a config value) passes the path explicitly; otherwise the common Debian
package locations are tried in order of preference. Renderers MUST cope with ``None`` (no CJK
font installed) by falling back to something that does not crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DEFAULT_CJK_FONT_PATHS: tuple[Path, ...] = (
    # fonts-wqy-microhei: TrueType outlines, so reportlab can embed it as well as Pillow.
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    # fonts-wqy-zenhei
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    # fonts-noto-cjk: CFF outlines; Pillow draws them, reportlab cannot embed them.
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    # fonts-droid-fallback, fonts-arphic-uming
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)
"""Where Debian and Ubuntu packages install CJK fonts, best first."""

# Face order inside Noto's collections is JP, KR, SC, TC, HK: index 2 gives Simplified
# Chinese glyph shapes. Every other collection above has its Chinese face at 0.
_SUBFONT_INDEX_BY_NAME = {
    "NotoSansCJK-Regular.ttc": 2,
    "NotoSansCJK-Bold.ttc": 2,
    "NotoSerifCJK-Regular.ttc": 2,
    "NotoSerifCJK-Bold.ttc": 2,
}


def find_cjk_font(
    override: Path | str | None = None,
    *,
    candidates: Iterable[Path] = DEFAULT_CJK_FONT_PATHS,
) -> Path | None:
    """The first existing CJK font file, or ``None`` when there is none.

    ``override`` MUST name an existing file when given (a typo should not silently print
    cards in a fallback font): ``FileNotFoundError`` otherwise. ``candidates`` is searched in
    order only when no override is given; pass ``()`` to force the fallback path.
    """
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"CJK font file not found: {path}")
        return path
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def subfont_index(path: Path) -> int:
    """The face to use inside a font collection (.ttc) for Simplified Chinese; 0 otherwise."""
    return _SUBFONT_INDEX_BY_NAME.get(path.name, 0)
