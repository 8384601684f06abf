"""A close look at a code the primary reader located but could not read.

zxing-cpp reports where it found a code whose data failed (a checksum or format error: glare
over some modules, damage, blur, a code that shrinking the frame left a pixel or two a
module). Reading that spot again costs little when only the spot is read: it is cut from the
full-resolution frame (when the frame was shrunk, the modules lost to shrinking are back),
with a margin for the quiet zone, and brought to ``CROP_SIDE_PX``. Variants of the crop
(equalised, sharpened, locally thresholded, a rectified redraw of the equalised one) then
cost a millisecond or a few each instead of tens on the whole frame: a glare blob or a
shadow spans a large part of a small crop, so a local threshold there separates modules
from paper where the whole frame's could not, and the code's finder patterns are large.

Pure functions of the pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from scanner.decoding.preprocess import Gray

Quad = npt.NDArray[np.float64]
"""Four (x, y) corners of a located code, in the coordinates of the frame it was found in."""

CROP_SIDE_PX = 400
"""The longest side a crop is brought to: a version 10 code keeps 6 px a module."""
_MARGIN = 0.35
"""Margin around the code's box, a share of its longer side: room for a quiet zone and for
a position reported a few modules off."""
_MIN_SIDE_PX = 8


def located_crop(full: Gray, frame: Gray, quad: Quad) -> Gray | None:
    """The area of ``quad`` (in ``frame``'s coordinates) cut from ``full`` (``frame`` before
    shrinking, or ``frame`` itself), with a margin, scaled so its longest side is
    ``CROP_SIDE_PX``. ``None`` when the quad is degenerate or off the image."""
    box = source_box(full, frame, quad)
    if box is None:
        return None
    left, top, right, bottom = box
    area = full[top:bottom, left:right]
    factor = CROP_SIDE_PX / max(area.shape)
    # Shrinking averages (no aliasing of fine modules); enlarging interpolates smoothly.
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return np.asarray(
        cv2.resize(area, None, fx=factor, fy=factor, interpolation=interpolation), dtype=np.uint8
    )


def source_box(full: Gray, frame: Gray, quad: Quad) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) in ``full`` of the crop ``located_crop`` makes (what its
    cost scales with), or None when there is none."""
    scale = full.shape[1] / frame.shape[1]
    points = np.asarray(quad, dtype=np.float64) * scale
    if not np.all(np.isfinite(points)):
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float(max(high - low))
    if extent < _MIN_SIDE_PX * scale:
        return None
    margin = _MARGIN * extent
    left, top = (max(0, int(v - margin)) for v in low)
    right = min(full.shape[1], int(high[0] + margin) + 1)
    bottom = min(full.shape[0], int(high[1] + margin) + 1)
    if right - left < _MIN_SIDE_PX or bottom - top < _MIN_SIDE_PX:
        return None
    return left, top, right, bottom


def largest(quads: list[Quad]) -> Quad | None:
    """The quad with the largest area (the code nearest the camera), or None."""
    if not quads:
        return None
    return max(quads, key=lambda quad: abs(float(cv2.contourArea(quad.astype(np.float32)))))
