"""A cheap look for anything QR-like in a frame, before the decoder spends its budget on it.

Most frames at a gate hold no code at all (nobody in front of the camera, a hand, a sleeve).
The decoder's fallbacks (sharpening, upscaling, other binarizers, other libraries) cost
tens of milliseconds together; spending them on an empty frame burns a core and delays the
next frame. A QR code has three finder patterns: a dark square ring around a light ring
around a dark square, which in a binarised image is a contour with a child that has a
child. Counting such nested, roughly square contours on a small copy of the frame costs a
couple of milliseconds and tells "maybe a code here" from "certainly nothing to read" well:
in the measurements of ``bench/decoder.py`` no cluttered empty frame had one, and every
photo whose code any decoder read had at least one.
"""

from __future__ import annotations

import cv2
import numpy as np

from scanner.decoding.preprocess import Gray

GATE_SIDE_PX = 320
"""The longest side of the copy the look runs on: finder patterns of a code that any step
can read still span several pixels there."""

_OFFSET = 12
_MIN_SIDE_PX = 5
_MAX_ASPECT = 2.5
_AREA_RATIO = (2.0, 25.0)
"""Outer box to innermost box area of a finder pattern: 49/9 when square and sharp; blur,
perspective and binarisation noise widen it."""


def finder_like(gray: Gray, *, side: int = GATE_SIDE_PX) -> int:
    """How many finder-pattern-like shapes ``gray`` holds (dark-on-light or inverted).

    Pure function of the pixels: the same frame always gives the same count.
    """
    small = _shrink(gray, side)
    block = max(15, (min(small.shape[:2]) // 10) | 1)
    # A threshold offset of 12 grey levels keeps sensor noise in flat areas from turning
    # into thousands of tiny contours (the contour search's cost) while a printed or
    # on-screen finder pattern, tens of levels darker than its quiet zone, stays.
    binary = cv2.adaptiveThreshold(
        small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, _OFFSET
    )
    dark: Gray = np.asarray(binary, dtype=np.uint8)
    light: Gray = np.asarray(cv2.bitwise_not(dark), dtype=np.uint8)
    return _nested_squares(dark) + _nested_squares(light)


def _shrink(gray: Gray, side: int) -> Gray:
    longest = max(gray.shape[:2])
    if longest <= side:
        return gray
    scale = side / longest
    return np.asarray(
        cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8
    )


def _nested_squares(binary: Gray) -> int:
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return 0
    first_child = hierarchy[0][:, 2]
    outer = np.nonzero(first_child >= 0)[0]
    grandchild = hierarchy[0][first_child[outer], 2]
    found = 0
    for index, inner in zip(outer[grandchild >= 0], grandchild[grandchild >= 0], strict=True):
        _, _, width, height = cv2.boundingRect(contours[index])
        if width < _MIN_SIDE_PX or height < _MIN_SIDE_PX:
            continue
        if max(width, height) > _MAX_ASPECT * min(width, height):
            continue
        _, _, inner_width, inner_height = cv2.boundingRect(contours[inner])
        ratio = (width * height) / max(1, inner_width * inner_height)
        if _AREA_RATIO[0] < ratio < _AREA_RATIO[1]:
            found += 1
    return found
