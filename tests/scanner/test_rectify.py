"""Rectifying a tilted or bent pass: what plain zxing-cpp cannot read, the decoder does."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import zxingcpp
from decoding_synth import (
    Image,
    Placement,
    cluttered_background,
    pass_like_text,
    place_code,
    render_gray,
)

from scanner.decoding import Decoder, DecoderConfig
from scanner.decoding.rectify import _alignment_centres, rectified

GENEROUS = DecoderConfig(budget_ms=1000, fallbacks="off")


def bent(code: Image, strength: float) -> Image:
    """The code printed on a card bent around a cylinder (a hand, a bottle, a phone case)
    seen from the front: modules squeezed towards the left and right edges, the top and
    bottom edges bowed. ``strength`` is half the arc in radians."""
    h, w = code.shape
    across = np.linspace(-1, 1, w, dtype=np.float64) * strength
    source_x = (np.sin(across) / math.sin(strength) + 1) * (w - 1) / 2
    map_x = np.tile(source_x, (h, 1)).astype(np.float32)
    rows = np.arange(h, dtype=np.float64)[:, None]
    bow = (np.cos(across) - math.cos(strength)) * h * 0.08
    map_y = (rows - bow[None, :] * (rows / h - 0.5) * 2).astype(np.float32)
    return np.asarray(
        cv2.remap(code, map_x, map_y, cv2.INTER_LINEAR, borderValue=255), dtype=np.uint8
    )


def _frame(code: Image, rng: np.random.Generator, placement: Placement) -> Image:
    frame = place_code(code, cluttered_background(rng), placement, rng)
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), 0.8), dtype=np.uint8)


def _zxing_texts(frame: Image) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(frame)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_pass_on_a_bent_card_is_read_where_zxing_reads_nothing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    text = pass_like_text(rng)
    frame = _frame(bent(render_gray(text, module_px=8), 1.15), rng, Placement(side_px=400))
    assert _zxing_texts(frame) == []  # the case this module exists for

    result = Decoder(GENEROUS).decode(frame)

    assert result.texts == (text,)
    # Redrawn from the whole frame, or from the equalised crop of the code zxing located.
    assert result.variant in ("rectified", "located_rectified")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_steeply_tilted_pass_is_read(seed: int) -> None:
    rng = np.random.default_rng(seed)
    text = pass_like_text(rng)
    placement = Placement(side_px=380, angle_deg=float(rng.uniform(-20, 20)), perspective=0.45)
    frame = _frame(render_gray(text, module_px=8), rng, placement)

    redrawn = rectified(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))

    assert redrawn is not None
    assert _zxing_texts(redrawn) == [text]
    assert Decoder(GENEROUS).decode(frame).texts == (text,)


def test_a_frame_without_a_code_gives_nothing_and_the_same_frame_the_same_answer() -> None:
    rng = np.random.default_rng(5)
    empty = cv2.cvtColor(cluttered_background(rng), cv2.COLOR_BGR2GRAY)
    assert rectified(empty) is None

    text = pass_like_text(rng)
    frame = cv2.cvtColor(
        _frame(bent(render_gray(text, module_px=8), 1.0), rng, Placement(side_px=400)),
        cv2.COLOR_BGR2GRAY,
    )
    first, second = rectified(frame), rectified(frame)
    assert first is not None
    assert second is not None
    assert np.array_equal(first, second)


@pytest.mark.parametrize(
    ("version", "positions"),
    [
        (2, [6, 18]),
        (7, [6, 22, 38]),
        (8, [6, 24, 42]),
        (14, [6, 26, 46, 66]),
        (32, [6, 34, 60, 86, 112, 138]),
        (40, [6, 30, 58, 86, 114, 142, 170]),
    ],
)
def test_alignment_pattern_centres_follow_the_standards_table(
    version: int, positions: list[int]
) -> None:
    dimension = 17 + 4 * version
    corners = {(6, 6), (6, positions[-1]), (positions[-1], 6)}
    expected = {(x + 0.5, y + 0.5) for x in positions for y in positions if (x, y) not in corners}
    assert set(_alignment_centres(dimension)) == expected
