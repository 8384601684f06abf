"""QR rendering of pass texts: PNG and SVG bytes, and the raw module matrix.

Passes are always rendered at error correction level Q (25% of codewords may be lost
to dirt, folds or glare) with the standard 4-module quiet zone. A v1 pass fits
QR version 8 (49x49 modules), so at 40 mm each module is about 0.7 mm: sharp on
any office laser printer and readable by a phone camera at arm's length.

The symbol comes from ``passes.qr_encoder`` (the same symbol python-qrcode makes, about 50x
faster) and the PNG is written here directly (1-bit greyscale, one deflate call), so a pass
costs well under a millisecond to render. SVG output still goes through python-qrcode.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage

from passes.qr_encoder import QrSymbol, encode

QUIET_ZONE_MODULES = 4
"""Blank border required by ISO/IEC 18004 around the symbol, in modules."""

_ERROR_CORRECTION_Q = qrcode.constants.ERROR_CORRECT_Q
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def qr_symbol(text: str) -> QrSymbol:
    """The pass QR symbol for ``text`` at level Q: version, mask and rows of '0'/'1'."""
    return encode(text, _ERROR_CORRECTION_Q)


def qr_version(text: str) -> int:
    """The smallest QR version (1-40) that holds ``text`` at error correction Q."""
    return qr_symbol(text).version


def qr_modules(text: str) -> tuple[tuple[bool, ...], ...]:
    """The symbol's dark modules as rows of booleans, quiet zone excluded.

    For vector output (PDF card sheets) that draws each module itself.
    """
    return tuple(tuple(cell == "1" for cell in row) for row in qr_symbol(text).rows)


def render_png(text: str, *, module_px: int = 10, border: int = QUIET_ZONE_MODULES) -> bytes:
    """PNG bytes of the code, ``module_px`` pixels per module, black on white.

    The default (10 px per module, 57 modules with quiet zone for a v1 pass) gives a
    570 px image: 40 mm printed at 360 dpi, or a crisp phone-screen code. The image is
    1-bit greyscale, as python-qrcode's Pillow output was.
    """
    if module_px < 1 or border < 0:
        raise ValueError("module_px must be at least 1 and border at least 0")
    return png_from_rows(qr_symbol(text).rows, module_px=module_px, border=border)


def png_from_rows(rows: tuple[str, ...], *, module_px: int, border: int) -> bytes:
    """A 1-bit greyscale PNG of ``rows`` ('1' = dark), scaled and with a light border.

    Each module row is packed 8 modules to a byte and widened by a 256-entry table (a byte
    of modules becomes ``module_px`` bytes of pixels, 1 = light); the ``module_px - 1`` copies
    below a pixel row are written with PNG's "Up" filter, so they are all zero bytes, and a
    fast deflate level then costs ~40 us and gives ~1.8 KB for a pass at 10 px per module.
    """
    count = len(rows) + 2 * border
    side = count * module_px
    stride = (side + 7) // 8
    pad = "0" * (-count % 8)
    quiet = "0" * border
    row_bytes = (count + len(pad)) // 8 * module_px
    modules = int("".join([quiet + row + quiet + pad for row in rows]), 2) if rows else 0
    packed = modules.to_bytes(len(rows) * row_bytes // module_px, "big")
    pixels = b"".join(map(_widening(module_px).__getitem__, packed))
    copies = b"\x02" + bytes(stride)  # "Up": the same as the pixel row above
    copies *= module_px - 1
    blank = b"\x00" + b"\xff" * stride + (b"\x02" + bytes(stride)) * (module_px - 1)
    lines = [blank * border]
    for start in range(0, len(pixels), row_bytes):
        lines.append(b"\x00" + pixels[start : start + stride] + copies)
    lines.append(blank * border)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(b"".join(lines), 1)),
            _PNG_END,
        )
    )


@lru_cache(maxsize=16)
def _widening(module_px: int) -> tuple[bytes, ...]:
    """For each byte of 8 modules (1 = dark), its ``8 * module_px`` pixels (1 = light)."""
    table = []
    for value in range(256):
        bits = "".join(("0" if value >> (7 - index) & 1 else "1") * module_px for index in range(8))
        table.append(int(bits, 2).to_bytes(module_px, "big"))
    return tuple(table)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _build(text: str, border: int = QUIET_ZONE_MODULES) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION_Q, border=border)
    code.add_data(text, optimize=0)
    code.make(fit=True)
    return code


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
