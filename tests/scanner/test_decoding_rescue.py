"""The frame path's rescue steps for real photos: a dark frame brightened, a code zxing
located but could not read looked at again from a crop, a large photo read at half its
resolution; each within the planned budget, nothing on an empty frame."""

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
    frame_with_code,
    pass_like_text,
    render_gray,
)
from test_rectify import bent

from scanner.decoding import Decoder, DecoderConfig, preprocess, rectify
from scanner.decoding.crop import CROP_SIDE_PX, largest, located_crop

FRAME_PATH = DecoderConfig(budget_ms=40, fallbacks="off")


def _frozen() -> float:
    # The plan alone decides which steps run: a test must not depend on the machine's load.
    return 0.0


def _zxing_texts(image: Image) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(image)]


def _gray(bgr: Image) -> Image:
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def _dim(gray: Image, low: int, high: int) -> Image:
    """``gray`` squeezed into grey levels ``low``..``high`` (a dim room, an underexposed
    camera)."""
    return np.asarray(np.round(low + gray.astype(np.float32) * (high - low) / 255), np.uint8)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_dark_frame_is_brightened_and_read_where_zxing_reads_nothing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    text = pass_like_text(rng)
    frame = frame_with_code(text, rng, Placement(side_px=300, angle_deg=5))
    dark = _dim(_gray(frame), 4, 20)
    assert _zxing_texts(dark) == []  # modules 16 grey levels apart: zxing sees flat grey

    result = Decoder(FRAME_PATH, clock=_frozen).decode(dark)

    assert result.texts == (text,)
    assert result.variant == "brighten"
    assert not result.exhausted


def test_brighten_leaves_a_normal_frame_alone_and_lifts_a_dark_one() -> None:
    normal = _gray(cluttered_background(np.random.default_rng(1)))
    assert preprocess.brighten(normal) is None

    dark = _dim(normal, 2, 30)
    lifted = preprocess.brighten(dark)

    assert lifted is not None
    assert int(lifted.max()) - int(lifted.min()) > 1.5 * (int(dark.max()) - int(dark.min()))
    order = np.argsort(dark, axis=None, kind="stable")
    assert np.all(np.diff(lifted.ravel()[order].astype(int)) >= 0)  # order of greys kept


def test_dark_frames_without_a_code_stay_off_the_plan() -> None:
    decoder = Decoder(FRAME_PATH, clock=_frozen)
    code_like = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        empty = _gray(cluttered_background(rng))
        result = decoder.decode(_dim(empty, 3, 25))
        assert result.texts == ()
        code_like += result.code_like
    assert code_like <= 2  # the look on the brightened copy lets hardly any through


def test_a_small_code_in_a_large_photo_is_read_at_half_resolution_within_the_budget() -> None:
    rng = np.random.default_rng(12)
    text = pass_like_text(rng)
    photo = np.full((3000, 4000), 170, dtype=np.uint8)
    code = render_gray(text, module_px=2)  # 0.64 px a module at 1280, 1 px at 2000
    photo[1400 : 1400 + code.shape[0], 1900 : 1900 + code.shape[1]] = code

    result = Decoder(FRAME_PATH, clock=_frozen).decode(photo)

    # Full resolution (12 MP) does not fit 40 ms; the halving made on the way to 1280 does.
    assert result.texts == (text,)
    assert result.variant == "half_resolution"


def test_shrink_hands_back_the_halving_it_made() -> None:
    photo = np.zeros((3000, 4000), np.uint8)
    frame, halved = preprocess.shrink(photo, 1280)
    assert frame.shape == (960, 1280)
    assert halved is not None
    assert halved.shape == (1500, 2000)
    assert preprocess.shrink(np.zeros((480, 640), np.uint8), 1280)[1] is None
    assert preprocess.shrink(np.zeros((1500, 2000), np.uint8), 1280)[1] is None


def test_a_located_crop_is_cut_from_the_full_resolution_frame() -> None:
    full = np.full((3000, 4000), 255, dtype=np.uint8)
    full[1000:1400, 2000:2400] = 0  # the "code", 400 px in the full frame
    frame = preprocess.limit_size(full, 1280)  # 0.32 x
    quad = np.array([[640, 320], [768, 320], [768, 448], [640, 448]], dtype=np.float64)

    crop = located_crop(full, frame, quad)

    assert crop is not None
    assert max(crop.shape) == CROP_SIDE_PX
    # The code sits in the middle with a light margin around it.
    assert crop[crop.shape[0] // 2, crop.shape[1] // 2] == 0
    assert crop[2, 2] == 255
    assert crop[-3, -3] == 255


def test_a_degenerate_or_missing_spot_gives_no_crop() -> None:
    gray = np.zeros((480, 640), np.uint8)
    assert located_crop(gray, gray, np.zeros((4, 2))) is None
    assert located_crop(gray, gray, np.full((4, 2), np.nan)) is None
    assert largest([]) is None
    small = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float64)
    big = small * 5
    assert largest([small, big, np.zeros((4, 2))]) is big


def test_a_code_located_but_unread_in_a_large_photo_is_read_from_its_crop() -> None:
    """A slightly blurred code in a 12 MP photo: shrunk to 1280 px its modules blur
    together, zxing finds the code but cannot read it. The crop around the spot, cut from
    the full photo, has its modules back, for a millisecond's read."""
    by_crop = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        text = pass_like_text(rng)
        photo = np.full((3000, 4000), 170, dtype=np.uint8)
        code = render_gray(text, module_px=4)
        top, left = int(rng.integers(500, 2000)), int(rng.integers(500, 3000))
        photo[top : top + code.shape[0], left : left + code.shape[1]] = code
        photo = np.asarray(cv2.GaussianBlur(photo, (0, 0), 1.0), np.uint8)

        result = Decoder(FRAME_PATH, clock=_frozen).decode(photo)

        assert result.texts == (text,)
        by_crop += result.variant == "located"
    assert by_crop >= 4


def test_every_step_fits_the_planned_budget_and_the_answer_repeats() -> None:
    rng = np.random.default_rng(4)
    text = pass_like_text(rng)
    frame = frame_with_code(text, rng, Placement(side_px=300, angle_deg=5))
    dark = _dim(_gray(frame), 4, 20)
    decoder = Decoder(DecoderConfig(budget_ms=3, fallbacks="off"), clock=_frozen)

    first = decoder.decode(dark)
    again = decoder.decode(dark)

    # 3 ms leave room for the first read only: the brightened read is planned out.
    assert first.texts == ()
    assert first.exhausted
    assert first.steps == 1
    assert (again.texts, again.variant, again.steps) == (first.texts, first.variant, first.steps)


def test_the_rectified_redraw_tries_only_the_grids_its_plan_has_room_for() -> None:
    rng = np.random.default_rng(3)
    text = pass_like_text(rng)
    frame = _gray(
        frame_with_code(text, rng, Placement(side_px=380, angle_deg=10, perspective=0.45))
    )

    nothing = rectify.rectified_within(frame, rectify.PLANNED_FINDERS_MS - 0.1)
    finders_only = rectify.rectified_within(frame, rectify.PLANNED_FINDERS_MS + 0.1)
    unlimited = rectify.rectified_within(frame, math.inf)

    assert nothing == (None, 0.0, False)
    assert finders_only[0] is None
    assert finders_only[1:] == (rectify.PLANNED_FINDERS_MS, False)
    redrawn, planned, complete = unlimited
    assert redrawn is not None
    assert complete
    assert planned >= rectify.PLANNED_FINDERS_MS + rectify.planned_fit_ms(21)
    assert _zxing_texts(redrawn) == [text]
    # Given exactly what it planned, it does the same.
    again = rectify.rectified_within(frame, planned)
    assert again[1:] == (planned, True)
    assert again[0] is not None
    assert np.array_equal(again[0], redrawn)


def test_a_bent_card_in_a_large_photo_is_redrawn_from_its_crop_within_the_budget() -> None:
    """Shrunk to 1280 px, a bent card's modules are too few pixels for the frame's finder
    search; the crop around the code zxing located, cut from the full photo, has them:
    its redraw reads, planned within the frame's 40 ms."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        text = pass_like_text(rng)
        photo = np.full((3000, 4000), 160, np.uint8)
        code = bent(render_gray(text, module_px=12), 1.15)
        top, left = int(rng.integers(300, 1800)), int(rng.integers(300, 2800))
        photo[top : top + code.shape[0], left : left + code.shape[1]] = code
        photo = np.asarray(cv2.GaussianBlur(photo, (0, 0), 1.5), np.uint8)

        result = Decoder(FRAME_PATH, clock=_frozen).decode(photo)

        assert result.texts == (text,)
        assert result.variant == "located_rectified"
