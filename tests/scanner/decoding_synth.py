"""Synthetic gate frames for decoder tests: a rendered pass, degraded like a real photo.

Each degradation is a pure function of a seeded ``numpy.random.Generator`` so a failing
case can be replayed exactly. Frames are 640x480 BGR with background clutter, like the
gate camera's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from passes.qr import render_png

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
FRAME_W, FRAME_H = 640, 480

Image = npt.NDArray[np.uint8]


def pass_like_text(rng: np.random.Generator) -> str:
    """A text shaped like a v1 pass: ``CP1:`` and 146 Base45 characters."""
    picks = rng.integers(0, len(BASE45_ALPHABET), size=146)
    return "CP1:" + "".join(BASE45_ALPHABET[int(i)] for i in picks)


def render_gray(text: str, module_px: int = 10) -> Image:
    png = render_png(text, module_px=module_px)
    decoded = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert decoded is not None
    return np.asarray(decoded, dtype=np.uint8)


def cluttered_background(rng: np.random.Generator) -> Image:
    """A 640x480 BGR frame of random rectangles, lines, circles and text."""
    frame = np.full((FRAME_H, FRAME_W, 3), rng.integers(60, 200), dtype=np.uint8)
    for _ in range(25):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x1, x2 = sorted(int(v) for v in rng.integers(0, FRAME_W, size=2))
        y1, y2 = sorted(int(v) for v in rng.integers(0, FRAME_H, size=2))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            cv2.rectangle(frame, (x1, y1), (x2, y2), colour, -1)
        elif kind == 1:
            cv2.line(frame, (x1, y1), (x2, y2), colour, int(rng.integers(1, 6)))
        elif kind == 2:
            cv2.circle(frame, (x1, y1), int(rng.integers(5, 60)), colour, -1)
        else:
            cv2.putText(frame, "CHECKPOINT 3", (x1, y1), cv2.FONT_HERSHEY_SIMPLEX, 1.0, colour, 2)
    return frame


@dataclass(frozen=True)
class Placement:
    """Where the code lands in the frame: its side in pixels, rotation, perspective."""

    side_px: float
    angle_deg: float = 0.0
    perspective: float = 0.0  # 0 = flat; 0.2 = one edge 20 % shorter than the other
    centre: tuple[float, float] | None = None  # None: anywhere it fits


def _random_centre(reach: npt.NDArray[np.float64], rng: np.random.Generator) -> tuple[float, float]:
    cx = rng.uniform(reach[0] + 2, FRAME_W - reach[0] - 2) if reach[0] * 2 < FRAME_W - 4 else 320
    cy = rng.uniform(reach[1] + 2, FRAME_H - reach[1] - 2) if reach[1] * 2 < FRAME_H - 4 else 240
    return float(cx), float(cy)


def place_code(code: Image, frame: Image, placement: Placement, rng: np.random.Generator) -> Image:
    """Warp the (gray, quiet-zoned) code onto the frame with a homography."""
    h, w = code.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    half = placement.side_px / 2
    squeeze = placement.perspective * half
    corners = np.array(
        [[-half + squeeze, -half], [half - squeeze, -half], [half, half], [-half, half]],
        dtype=np.float64,
    )
    theta = np.deg2rad(placement.angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    corners = corners @ rot.T
    reach = np.abs(corners).max(axis=0)
    if placement.centre is not None:
        cx, cy = placement.centre
    else:
        cx, cy = _random_centre(reach, rng)
    dst = (corners + np.array([cx, cy])).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    code_bgr = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    warped = cv2.warpPerspective(code_bgr, matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(
        np.full((h, w), 255, np.uint8), matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR
    )
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    out = warped.astype(np.float32) * alpha + frame.astype(np.float32) * (1 - alpha)
    return np.clip(out, 0, 255).astype(np.uint8)


def gaussian_blur(frame: Image, sigma: float) -> Image:
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), sigma), dtype=np.uint8)


def gaussian_noise(frame: Image, rng: np.random.Generator, sigma: float) -> Image:
    noisy = frame.astype(np.float32) + rng.normal(0, sigma, frame.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg(frame: Image, quality: int) -> Image:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)


def glare(frame: Image, centre: tuple[int, int], radius: float, strength: float) -> Image:
    """A soft white blob, like a ceiling light reflected on a laminated card."""
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W]
    dist2 = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2
    blob = strength * np.exp(-dist2 / (2 * radius**2))
    lifted = frame.astype(np.float32) + blob[..., None] * (255 - frame.astype(np.float32))
    return np.clip(lifted, 0, 255).astype(np.uint8)


def frame_with_code(
    text: str,
    rng: np.random.Generator,
    placement: Placement,
    *,
    inverted: bool = False,
    module_px: int = 10,
) -> Image:
    code = render_gray(text, module_px=module_px)
    if inverted:
        code = np.asarray(255 - code, dtype=np.uint8)
    return place_code(code, cluttered_background(rng), placement, rng)


Degrade = Callable[[str, np.random.Generator], Image]
"""Makes one degraded 640x480 BGR frame holding ``text``."""

# A v1 pass is QR version 8: 49 modules + 2x4 quiet zone = 57 modules across.
MODULES_WITH_QUIET_ZONE = 57


def _rotated(text: str, rng: np.random.Generator) -> Image:
    return frame_with_code(text, rng, Placement(side_px=300, angle_deg=rng.uniform(-45, 45)))


def _perspective(text: str, rng: np.random.Generator) -> Image:
    return frame_with_code(
        text, rng, Placement(side_px=320, angle_deg=rng.uniform(-10, 10), perspective=0.25)
    )


def _blurred(text: str, rng: np.random.Generator) -> Image:
    return gaussian_blur(frame_with_code(text, rng, Placement(side_px=340)), sigma=1.6)


def _noisy(text: str, rng: np.random.Generator) -> Image:
    return gaussian_noise(frame_with_code(text, rng, Placement(side_px=300)), rng, sigma=30)


def _jpeg_low_quality(text: str, rng: np.random.Generator) -> Image:
    return jpeg(frame_with_code(text, rng, Placement(side_px=240, angle_deg=7)), quality=12)


def _tiny_modules(text: str, rng: np.random.Generator) -> Image:
    side = MODULES_WITH_QUIET_ZONE * rng.uniform(2.0, 3.0)
    return frame_with_code(text, rng, Placement(side_px=side, angle_deg=3))


def _inverted(text: str, rng: np.random.Generator) -> Image:
    return frame_with_code(text, rng, Placement(side_px=300, angle_deg=12), inverted=True)


def _glare(text: str, rng: np.random.Generator) -> Image:
    frame = frame_with_code(text, rng, Placement(side_px=360, centre=(320, 240)))
    # The blob sits on the code's data area, off its centre, as a ceiling light would.
    centre = (int(rng.integers(260, 380)), int(rng.integers(180, 300)))
    return glare(frame, centre, radius=45, strength=0.75)


DEGRADATIONS: dict[str, Degrade] = {
    "rotated": _rotated,
    "perspective": _perspective,
    "blurred": _blurred,
    "noisy": _noisy,
    "jpeg_low_quality": _jpeg_low_quality,
    "tiny_modules": _tiny_modules,
    "inverted": _inverted,
    "glare": _glare,
}
