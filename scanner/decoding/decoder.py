"""The budgeted decoding pipeline: cheap attempts first, give up when the frame's time is spent.

A frame is turned to gray and shrunk to at most ``max_side`` pixels, then a fixed plan of
(backend, image variant) steps runs in order until one step finds a code. Before each step
the decoder checks the clock: once ``budget_ms`` is spent it abandons the frame (the camera
has a fresh one by then). A single library call cannot be interrupted, so the decoder
also skips a step whose expected cost (a running average per backend, in ms per
megapixel) exceeds what is left; that keeps slow fallbacks and full-resolution retries from
stalling the gate. Only the first step runs unconditionally.

The plan comes from measuring which steps add decodes (97 ZXing blackbox photos and 420
synthetic degraded passes; ``bench/decoder.py`` reproduces the photo figures): zxing-cpp
on the plain frame reads about 90 % of the synthetic set; sharpening and 2x upscaling
rescue most of the rest, the global-histogram binarizer, local thresholding and a median
filter a few more, each for a millisecond or two. CLAHE and light flattening rescued
nothing extra in those sets but stay, late and cheap, for glare and shadow the sets lack.
WeChat and zbar come last: slower per frame, and they added no decode the zxing steps
had missed (they remain for codes zxing's detector cannot see at all).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scanner.decoding import preprocess
from scanner.decoding.backends import BACKEND_NAMES, Backend, ZxingBackend, load_backend
from scanner.decoding.preprocess import Gray

DEFAULT_BUDGET_MS = 40.0

# (variant, zxing binarizer or "" for other backends), per backend, cheapest and most
# productive first. "full_resolution" only exists when the frame was shrunk; it comes early
# because a small code in a large photo is the likeliest thing shrinking lost, and the cost
# estimate skips it when the budget cannot pay for it.
_ZXING_STEPS: tuple[tuple[str, str], ...] = (
    ("original", "local"),
    ("original", "histogram"),
    ("full_resolution", "local"),
    ("sharpen", "local"),
    ("upscale", "local"),
    ("adaptive_threshold", "local"),
    ("denoise", "histogram"),
    ("clahe", "local"),
    ("flatten_light", "local"),
    ("sharpen", "histogram"),
    ("upscale", "histogram"),
)
_WECHAT_STEPS: tuple[tuple[str, str], ...] = (
    ("original", ""),
    ("invert", ""),
    ("sharpen", ""),
)
_ZBAR_STEPS: tuple[tuple[str, str], ...] = (
    ("original", ""),
    ("invert", ""),
    ("adaptive_threshold", ""),
)
_STEPS = {"zxing": _ZXING_STEPS, "wechat": _WECHAT_STEPS, "zbar": _ZBAR_STEPS}

# Prior cost per megapixel of one call, ms, before any frame has been measured on this
# machine; deliberately pessimistic for the fallbacks.
_PRIOR_MS_PER_MPX = {"zxing": 8.0, "wechat": 60.0, "zbar": 25.0}
_COST_SMOOTHING = 0.2
_SKIP_FORGETTING = 0.95


@dataclass(frozen=True)
class DecoderConfig:
    """Which backends run, in which order, and how long one frame may take.

    ``backends`` names come from ``BACKEND_NAMES``; the first is the primary, the others
    run only if it found nothing and time remains. ``max_side`` is the longest side, in
    pixels, a frame is shrunk to before decoding.
    """

    backends: tuple[str, ...] = BACKEND_NAMES
    budget_ms: float = DEFAULT_BUDGET_MS
    max_side: int = preprocess.MAX_SIDE_PX

    def __post_init__(self) -> None:
        if not self.backends:
            raise ValueError("at least one QR backend is needed")
        unknown = [name for name in self.backends if name not in BACKEND_NAMES]
        if unknown:
            known = ", ".join(BACKEND_NAMES)
            raise ValueError(f"unknown QR backend(s) {', '.join(unknown)}; choose from {known}")
        if len(set(self.backends)) != len(self.backends):
            raise ValueError(f"QR backend listed twice: {', '.join(self.backends)}")
        if not self.budget_ms > 0:
            raise ValueError(f"budget_ms must be positive, got {self.budget_ms}")
        if self.max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels, got {self.max_side}")


@dataclass(frozen=True)
class DecodeResult:
    """What one frame held.

    ``texts`` are the distinct QR payloads, in the order found (empty if none). ``backend``
    and ``variant`` name the step that found them (``None`` if nothing was found). ``ms``
    is the wall time spent on the frame. ``exhausted`` is true when the budget ran out
    before every step was tried, so "nothing found" may only mean "no time".
    """

    texts: tuple[str, ...]
    backend: str | None
    ms: float
    variant: str | None
    exhausted: bool = False


@dataclass(frozen=True)
class _Step:
    backend: Backend
    cost_key: str
    variant: str
    label: str


class Decoder:
    """Decodes frames with one ``DecoderConfig``. Not thread-safe: one per scanning thread."""

    def __init__(
        self, config: DecoderConfig | None = None, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.config = config or DecoderConfig()
        self._clock = clock
        self._steps = _build_plan(self.config.backends)
        self._ms_per_mpx = dict(_PRIOR_MS_PER_MPX)

    @property
    def backends(self) -> tuple[str, ...]:
        """The configured backends that loaded, in order."""
        return tuple(dict.fromkeys(step.cost_key for step in self._steps))

    def decode(self, image: npt.NDArray[np.generic]) -> DecodeResult:
        """Every QR text in ``image`` (gray, BGR or BGRA uint8), within the time budget.

        The first step (the primary backend on the shrunk frame) always runs, even if
        shrinking a huge photo used up the budget: it is bounded by ``max_side``, and a
        decoder that never looks at a frame is no use. Every later step MUST start before
        the deadline and is skipped when its expected cost does not fit.

        Raises ``ValueError`` for an image that is not an 8-bit picture.
        """
        started = self._clock()
        deadline = started + self.config.budget_ms / 1000
        full = preprocess.to_gray(image)
        frame = preprocess.limit_size(full, self.config.max_side)
        variants = _VariantCache(full, frame)
        for index, step in enumerate(self._steps):
            now = self._clock()
            if index and now >= deadline:
                return self._result((), None, started, exhausted=True)
            gray = variants.get(step.variant)
            if gray is None:
                continue
            megapixels = gray.size / 1e6
            if index and self._ms_per_mpx[step.cost_key] * megapixels > (deadline - now) * 1000:
                # Forget a little on every skip, so one slow outlier frame cannot bar a
                # backend for good: it gets probed again on a later frame.
                self._ms_per_mpx[step.cost_key] *= _SKIP_FORGETTING
                continue
            call_started = self._clock()
            texts = step.backend.read(gray)
            self._learn_cost(step.cost_key, megapixels, self._clock() - call_started)
            if texts:
                return self._result(tuple(dict.fromkeys(texts)), step, started)
        return self._result((), None, started, exhausted=self._clock() >= deadline)

    def _learn_cost(self, key: str, megapixels: float, seconds: float) -> None:
        if megapixels <= 0:
            return
        observed = seconds * 1000 / megapixels
        previous = self._ms_per_mpx[key]
        self._ms_per_mpx[key] = previous + _COST_SMOOTHING * (observed - previous)

    def _result(
        self, texts: tuple[str, ...], step: _Step | None, started: float, *, exhausted: bool = False
    ) -> DecodeResult:
        return DecodeResult(
            texts=texts,
            backend=step.backend.name if step else None,
            ms=(self._clock() - started) * 1000,
            variant=step.label if step else None,
            exhausted=exhausted,
        )


class _VariantCache:
    """Computes each image variant of one frame at most once, on first use."""

    def __init__(self, full: Gray, frame: Gray) -> None:
        self._full = full
        self._frame = frame
        self._made: dict[str, Gray | None] = {}

    def get(self, name: str) -> Gray | None:
        if name not in self._made:
            if name == "full_resolution":
                shrunk = self._full.shape != self._frame.shape
                self._made[name] = self._full if shrunk else None
            else:
                self._made[name] = preprocess.VARIANTS[name](self._frame)
        return self._made[name]


def _build_plan(backend_names: tuple[str, ...]) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    for name in backend_names:
        if name == "zxing":
            # Each binarizer is its own zxing reader; load once to learn if zxing is there.
            if load_backend("zxing") is None:
                continue
            readers: dict[str, Backend] = {
                "local": ZxingBackend(binarizer="local"),
                "histogram": ZxingBackend(binarizer="histogram"),
            }
            for variant, binarizer in _ZXING_STEPS:
                label = variant if binarizer == "local" else f"{variant}+histogram"
                steps.append(_Step(readers[binarizer], name, variant, label))
            continue
        backend = load_backend(name)
        if backend is None:
            continue
        steps.extend(_Step(backend, name, variant, variant) for variant, _ in _STEPS[name])
    return tuple(steps)
