"""passes.qr_encoder makes python-qrcode's symbol, and every symbol it makes decodes.

python-qrcode stays the reference: the fast encoder must give the same version, mask and
modules for every text (so nothing printed or shown changes), and zxing-cpp must read back
what it wrote, for every mask choice, for small versions and for versions that carry version
information (7 and up).
"""

from __future__ import annotations

import io
import json
import random
import string
from pathlib import Path

import pytest
import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from passes.qr import qr_modules, qr_symbol, qr_version, render_png
from passes.qr_encoder import QrDataOverflowError, encode

zxingcpp = pytest.importorskip("zxingcpp")

ALPHA_NUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "pass_v1.json").read_text(encoding="utf-8")
)


def reference(
    text: str, level: int = qrcode.constants.ERROR_CORRECT_Q
) -> tuple[int, int, tuple[str, ...]]:
    """python-qrcode's version, mask and rows for ``text`` (as passes.qr used to build it)."""
    code = qrcode.QRCode(error_correction=level, border=0)
    code.add_data(text, optimize=0)
    code.make(fit=True)
    rows = tuple("".join("1" if cell else "0" for cell in row) for row in code.get_matrix())
    mask = code.best_mask_pattern()  # rebuilds the modules in test mode: read them first
    return code.version, mask, rows


def pass_shaped(rng: random.Random) -> str:
    return "CP1:" + "".join(rng.choice(ALPHA_NUM) for _ in range(146))


def texts(seed: int, count: int) -> list[str]:
    """Texts of every mode (numeric, alphanumeric, bytes, UTF-8) over many lengths."""
    rng = random.Random(seed)
    alphabets = [ALPHA_NUM, string.digits, string.printable, "出入证户号abc"]
    lengths = [0, 1, 2, 3, 4, 7, 20, 41, 77, 150, 151, 260, 500, 900]
    return [
        "".join(rng.choice(alphabets[index % 4]) for _ in range(rng.choice(lengths)))
        for index in range(count)
    ]


@pytest.mark.parametrize("text", texts(7, 160))
def test_same_symbol_as_python_qrcode(text: str) -> None:
    try:
        expected = reference(text)
    except (qrcode.exceptions.DataOverflowError, ValueError):  # too long, by either check
        with pytest.raises(QrDataOverflowError):
            encode(text)
        return
    symbol = encode(text)
    assert (symbol.version, symbol.mask, symbol.rows) == expected


def test_pass_texts_give_the_reference_symbol_at_version_8() -> None:
    rng = random.Random(16)
    samples = [vector["text"] for vector in VECTORS["valid"]] + [
        pass_shaped(rng) for _ in range(40)
    ]
    for text in samples:
        symbol = qr_symbol(text)
        assert symbol.version == 8
        assert symbol.size == 49
        assert (symbol.version, symbol.mask, symbol.rows) == reference(text)


def test_other_levels_match_too() -> None:
    for level in (
        qrcode.constants.ERROR_CORRECT_L,
        qrcode.constants.ERROR_CORRECT_M,
        qrcode.constants.ERROR_CORRECT_H,
    ):
        for text in texts(level, 12):
            if len(text.encode()) > 1200:
                continue
            symbol = encode(text, level)
            assert (symbol.version, symbol.mask, symbol.rows) == reference(text, level)


@pytest.mark.parametrize("version", [1, 2, 6, 7, 9, 10, 13, 20, 26, 27, 33, 40])
def test_versions_at_the_edges_of_the_length_fields(version: int) -> None:
    # The longest byte-mode text that fits ``version`` at Q: length fields change at 10 and 27.
    length_bits = 8 if version < 10 else 16
    capacity = (
        qrcode.util.BIT_LIMIT_TABLE[qrcode.constants.ERROR_CORRECT_Q][version] - 4 - length_bits
    ) // 8
    text = "".join(random.Random(version).choice(string.ascii_lowercase) for _ in range(capacity))
    symbol = encode(text)
    assert symbol.version == version
    assert (symbol.version, symbol.mask, symbol.rows) == reference(text)
    if version < 40:
        assert encode(text + "x").version == version + 1
    if version in (7, 40):
        assert decode(render_png(text, module_px=3)) == text


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_matches_python_qrcode(text: str) -> None:
    symbol = encode(text)
    assert (symbol.version, symbol.mask, symbol.rows) == reference(text)


def decode(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    text: str = results[0].text
    return text


def test_every_mask_choice_decodes_with_zxing() -> None:
    """Find texts for which each of the 8 masks wins, small and large versions alike."""
    rng = random.Random(8)
    wanted = {(mask, big) for mask in range(8) for big in (False, True)}
    attempts = 0
    while wanted and attempts < 5000:
        attempts += 1
        big = attempts % 2 == 0
        text = pass_shaped(rng) if big else "".join(rng.choice(ALPHA_NUM) for _ in range(12))
        symbol = qr_symbol(text)
        if (symbol.mask, big) not in wanted:
            continue
        wanted.discard((symbol.mask, big))
        assert (symbol.version >= 7) == big
        assert decode(render_png(text, module_px=4)) == text
    assert not wanted, f"no text found for mask/size {sorted(wanted)}"


def test_png_is_one_bit_greyscale_with_the_quiet_zone() -> None:
    text = VECTORS["valid"][0]["text"]
    png = render_png(text, module_px=10)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "1"
    assert image.size == (570, 570)  # (49 + 2 * 4) modules of 10 px
    pixels = image.load()
    assert pixels is not None
    assert pixels[39, 39] == 255
    assert pixels[40, 40] == 0
    assert decode(png) == text
    assert len(png) < 2500


@pytest.mark.parametrize(("module_px", "border"), [(2, 4), (3, 4), (5, 2), (6, 4), (7, 1), (12, 4)])
def test_png_at_other_scales_decodes(module_px: int, border: int) -> None:
    text = VECTORS["valid"][1]["text"]
    png = render_png(text, module_px=module_px, border=border)
    image = Image.open(io.BytesIO(png))
    assert image.size == ((49 + 2 * border) * module_px,) * 2
    assert decode(png) == text
    # The pixels are exactly the modules, scaled: compare with the symbol, module by module.
    rows = qr_symbol(text).rows
    grey = image.convert("L")
    offset = border * module_px + module_px // 2
    for row_index in range(0, 49, 6):
        for column in range(49):
            pixel = grey.getpixel((offset + column * module_px, offset + row_index * module_px))
            assert (pixel == 0) == (rows[row_index][column] == "1")


def test_png_without_border_and_at_one_pixel() -> None:
    text = "CP1:TEST"
    size = qr_symbol(text).size
    assert Image.open(io.BytesIO(render_png(text, module_px=1, border=0))).size == (size, size)
    with pytest.raises(ValueError, match="module_px"):
        render_png(text, module_px=0)


def test_modules_and_version_come_from_the_same_symbol() -> None:
    text = VECTORS["valid"][0]["text"]
    modules = qr_modules(text)
    assert qr_version(text) == 8
    assert (
        tuple("".join("1" if cell else "0" for cell in row) for row in modules)
        == (reference(text)[2])
    )


def test_too_long_a_text_is_refused() -> None:
    with pytest.raises(QrDataOverflowError):
        encode("x" * 3000)
