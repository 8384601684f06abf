"""Image variants that rescue codes the decoders miss on the raw frame.

Every variant takes and returns an 8-bit grayscale array and may return ``None`` when it
does not apply to this frame (no point upscaling an already large frame), so the pipeline
spends no time on it. Variants are cheap OpenCV calls (well under 5 ms on a 640x480 frame).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
Variant = Callable[[Gray], Gray | None]

MAX_SIDE_PX = 1280
"""Frames longer than this are downscaled first: decoders slow down with area, and a
code big enough to fill a 4000 px photo still has several pixels per module at 1280."""

SMALL_SIDE_PX = 800
"""Frames whose longest side is at most this are also tried at twice the size, which
helps codes whose modules are only 1-2 pixels wide."""


def to_gray(image: npt.NDArray[np.generic]) -> Gray:
    """An 8-bit single-channel view of a gray, BGR or BGRA frame.

    Raises ``ValueError`` for anything else (wrong dtype, wrong shape, empty), so a bad
    frame source fails loudly instead of decoding noise.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.size == 0:
        raise ValueError("empty image")
    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim == 2:
        return np.ascontiguousarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        return np.ascontiguousarray(pixels[:, :, 0])
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGRA2GRAY), dtype=np.uint8)
    raise ValueError(f"expected a gray, BGR or BGRA image, got shape {image.shape}")


def limit_size(gray: Gray, max_side: int = MAX_SIDE_PX) -> Gray:
    """``gray`` shrunk (area averaging) so its longest side is at most ``max_side``.

    Halving first while the frame is over twice the limit: OpenCV's area resize has a
    fast path for exact factors, which makes a 12 MP photo about twice as quick to shrink.
    """
    return shrink(gray, max_side)[0]


def shrink(gray: Gray, max_side: int = MAX_SIDE_PX) -> tuple[Gray, Gray | None]:
    """``limit_size(gray, max_side)``, and the last halving on the way there (between one
    and two times ``max_side`` long; ``None`` when ``gray`` was not over twice the limit):
    a middle resolution that costs nothing more to have."""
    halved = None
    while max(gray.shape[:2]) > 2 * max_side:
        gray = np.asarray(
            cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
        halved = gray
    return _fit(gray, max_side), halved


def _fit(gray: Gray, max_side: int) -> Gray:
    longest = max(gray.shape[:2])
    if longest <= max_side:
        return gray
    scale = max_side / longest
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def original(gray: Gray) -> Gray:
    return gray


DARK_LEVEL = 64
"""A frame whose median grey is below this is dark (a dim room, a code in shadow next to a
lamp): ``brighten`` applies to it."""
_GAMMA_LUT = np.asarray(255 * (np.arange(256) / 255) ** 0.5, dtype=np.uint8)


def brighten(gray: Gray) -> Gray | None:
    """A dark frame lifted by a gamma of 0.5 (grey 6 becomes 39, 20 becomes 72); ``None``
    for a frame that is not dark.

    zxing's local binarizer takes a block whose grey levels span less than 24 for a flat
    one; in a dark JPEG a code's modules often differ by less than that, so the code is
    never seen. The gamma stretches the dark levels apart (and JPEG noise with them, which
    the binarizer tolerates). The median is taken on every 8th pixel: cheap.
    """
    if float(np.median(gray[::8, ::8])) >= DARK_LEVEL:
        return None
    return np.asarray(cv2.LUT(gray, _GAMMA_LUT), dtype=np.uint8)


def clahe(gray: Gray) -> Gray:
    """Contrast-limited local equalisation: lifts codes in shadow or next to glare."""
    tiles = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    return np.asarray(tiles.apply(gray), dtype=np.uint8)


def flatten_light(gray: Gray) -> Gray:
    """Divide out the slowly varying illumination (glare blobs, vignetting, shadows).

    The background is estimated on an eighth-size copy: a wide blur at full size costs
    tens of milliseconds, at 1/64 of the pixels well under one.
    """
    h, w = gray.shape[:2]
    small = cv2.resize(gray, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    sigma = max(small.shape[:2]) / 24
    background = cv2.resize(
        cv2.GaussianBlur(small, (0, 0), sigma), (w, h), interpolation=cv2.INTER_LINEAR
    )
    return np.asarray(cv2.divide(gray, background, scale=160), dtype=np.uint8)


def upscale(gray: Gray) -> Gray | None:
    """Twice the size (cubic): gives tiny modules enough pixels for the finder search."""
    if max(gray.shape[:2]) > SMALL_SIDE_PX:
        return None
    return np.asarray(
        cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC), dtype=np.uint8
    )


def adaptive_threshold(gray: Gray) -> Gray:
    """Local mean threshold over a window about a twentieth of the frame."""
    block = max(15, (min(gray.shape[:2]) // 20) | 1)
    binary = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 5
    )
    return np.asarray(binary, dtype=np.uint8)


def denoise(gray: Gray) -> Gray:
    """Median filter: removes sensor noise and JPEG ringing that break module edges."""
    return np.asarray(cv2.medianBlur(gray, 3), dtype=np.uint8)


def sharpen(gray: Gray) -> Gray:
    """Unsharp mask: restores module edges of slightly out-of-focus frames."""
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return np.asarray(cv2.addWeighted(gray, 1.8, blurred, -0.8, 0), dtype=np.uint8)


def invert(gray: Gray) -> Gray:
    """White-on-black codes (phones in dark mode) for backends that only read dark-on-light."""
    return np.asarray(255 - gray, dtype=np.uint8)


VARIANTS: dict[str, Variant] = {
    "original": original,
    "clahe": clahe,
    "flatten_light": flatten_light,
    "upscale": upscale,
    "adaptive_threshold": adaptive_threshold,
    "denoise": denoise,
    "sharpen": sharpen,
    "invert": invert,
    "brighten": brighten,
}
"""All variants by name (the name is reported in ``DecodeResult.variant``)."""
