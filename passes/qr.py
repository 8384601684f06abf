"""QR rendering of pass texts: PNG and SVG bytes, and the raw module matrix.

Passes are always rendered at error correction level Q (25% of codewords may be lost
to dirt, folds or glare) with the standard 4-module quiet zone. A v1 pass fits
QR version 8 (49x49 modules), so at 40 mm each module is about 0.7 mm: sharp on
any office laser printer and readable by a phone camera at arm's length.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage

QUIET_ZONE_MODULES = 4
"""Blank border required by ISO/IEC 18004 around the symbol, in modules."""

_ERROR_CORRECTION_Q = qrcode.constants.ERROR_CORRECT_Q


def _build(text: str, border: int = QUIET_ZONE_MODULES) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION_Q, border=border)
    code.add_data(text, optimize=0)
    code.make(fit=True)
    return code


def qr_version(text: str) -> int:
    """The smallest QR version (1-40) that holds ``text`` at error correction Q."""
    return int(_build(text).version)


def qr_modules(text: str) -> tuple[tuple[bool, ...], ...]:
    """The symbol's dark modules as rows of booleans, quiet zone excluded.

    For vector output (PDF card sheets) that draws each module itself.
    """
    matrix = _build(text, border=0).get_matrix()
    return tuple(tuple(bool(cell) for cell in row) for row in matrix)


def render_png(text: str, *, module_px: int = 10, border: int = QUIET_ZONE_MODULES) -> bytes:
    """PNG bytes of the code, ``module_px`` pixels per module, black on white.

    The default (10 px per module, 57 modules with quiet zone for a v1 pass) gives a
    570 px image: 40 mm printed at 360 dpi, or a crisp phone-screen code.
    """
    code = _build(text, border=border)
    code.box_size = module_px
    image = code.make_image()
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_svg(text: str, *, size_mm: float = 40.0, border: int = QUIET_ZONE_MODULES) -> bytes:
    """SVG bytes of the code, ``size_mm`` wide including the quiet zone."""
    code = _build(text, border=border)
    modules = code.modules_count + 2 * border
    # qrcode's SVG factories size a module in mm via box_size / 10.
    code.box_size = max(1, round(size_mm * 10 / modules))
    image = code.make_image(image_factory=SvgPathImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
