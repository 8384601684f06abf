"""The budgeted decoding pipeline: cheap attempts first, nothing wasted on empty frames, no
slow call on the frame path.

A frame is turned to gray and shrunk to at most ``max_side`` pixels. Then:

1. The primary backend (zxing-cpp) reads the frame once. It also reports codes it located
   but could not read.
2. If it read nothing and located nothing, a cheap look for finder patterns
   (:mod:`scanner.decoding.locate`, ~1-2 ms; in a dark frame also on its brightened copy)
   decides whether the frame may hold a code at all. Most gate frames hold none: they end
   here, after a few milliseconds.
3. Otherwise the primary's variant plan runs, cheapest and most productive first, until
   one step finds a code: a crop of the code it located from the full-resolution frame
   (:mod:`scanner.decoding.crop`: plain, equalised, sharpened, thresholded, redrawn), a
   dark frame brightened, the other binarizer, the frame at full or half resolution, a
   rectified redraw of a tilted or bent code (:mod:`scanner.decoding.rectify`), local
   equalisation, sharpening, upscaling.
4. The fallback libraries (OpenCV's WeChat reader, zbar) are slow and heavy-tailed (single
   calls of hundreds of milliseconds were measured). On the frame path of a scanner
   (``fallbacks="background"``) they never run: a code-like frame the primary could not
   read goes to a background lane (one thread, the newest frame wins), and what the lane
   reads is returned by a later :meth:`Decoder.decode` call, marked ``late``. For stills
   (``fallbacks="inline"``: the decode command, tests) they run in the call.

The time budget is planned, not learned: each step's cost is estimated from fixed tables
(ms per megapixel per backend and per costly variant; the redraws by their parts; CPU time
measured over the photo sets with ``bench/decoder.py``) and a step runs only if
the planned total stays within ``budget_ms``, so the same image always gets the same steps
and the same answer. The clock is a safety valve only: no step starts after the budget is
spent (on a machine overloaded beyond the table's figures a frame is cut short, and
``exhausted`` says so). The first step always runs: it is bounded by ``max_side``.

The plan comes from measuring which steps add decodes (ZXing blackbox photos, BoofCV's QR
benchmark photos and synthetic degraded passes; ``bench/decoder.py`` reproduces the photo
figures, ``--only plan`` without the machine's load).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from scanner.decoding import preprocess
from scanner.decoding.backends import BACKEND_NAMES, Backend, ZxingBackend, load_backend
from scanner.decoding.crop import CROP_SIDE_PX, Quad, largest, located_crop, source_box
from scanner.decoding.locate import finder_like
from scanner.decoding.preprocess import Gray
from scanner.decoding.rectify import rectified, rectified_within

DEFAULT_BUDGET_MS = 40.0

Fallbacks = Literal["background", "inline", "off"]

# (variant, zxing binarizer or "" for other backends), per backend, cheapest and most
# productive first (the order measured best over the BoofCV and ZXing photos). The "located"
# variants only exist when the first read located a code it could not read: a small crop
# around it (:mod:`scanner.decoding.crop`), a millisecond or two a read, so they come first.
# "brighten" only exists for a dark frame. "full_resolution" and "half_resolution" only exist
# when the frame was shrunk (a small code in a large photo is the likeliest thing shrinking
# lost); the full one rarely fits the budget, the halving made on the way down often does.
_ZXING_STEPS: tuple[tuple[str, str], ...] = (
    ("original", "local"),
    ("located", "local"),
    ("located_clahe", "local"),
    ("located_sharpen", "local"),
    ("located_threshold", "local"),
    ("located_rectified", "local"),
    ("brighten", "local"),
    ("original", "histogram"),
    ("full_resolution", "local"),
    ("half_resolution", "local"),
    ("rectified", "local"),
    ("clahe", "local"),
    ("sharpen", "local"),
    ("upscale", "local"),
    ("adaptive_threshold", "local"),
    ("denoise", "histogram"),
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

PLANNED_MS_PER_MPX = {"zxing": 5.0, "wechat": 60.0, "zbar": 25.0}
"""Planned cost of one call, ms per megapixel, by backend. zxing: CPU time per read over
every frame-path read of the BoofCV and ZXing photos (438 reads, 2-core x86): p75 2.7,
p95 4.8 (frames over 0.5 MP: p95 3.0, the longest read 6.4 ms); the others: about the 75th
percentile. Fixed, so the plan for an image never depends on what the decoder saw before."""
PLANNED_OVERHEAD_MS = 0.5
"""Planned cost of preparing a variant and of calling into a library, per step."""
PLANNED_VARIANT_MS_PER_MPX = {
    "adaptive_threshold": 12.0,
    "clahe": 4.5,
    "flatten_light": 4.0,
    "sharpen": 3.5,
    "located": 3.0,
    "located_threshold": 12.0,
    "located_clahe": 4.5,
    "located_sharpen": 3.5,
    "brighten": 0.5,
    "half_resolution": 0.5,
}
"""Planned cost of making a variant, ms per megapixel of what it is made from (the frame;
for "located", the crop's area in the full-resolution frame; for "located_*", the crop), at
about the 95th percentile of the CPU time measured over the photo sets. Variants not listed
cost well under a millisecond; the rectified redraw plans its own parts
(:func:`scanner.decoding.rectify.rectified_within`)."""
_REDRAWN = {"rectified": "original", "located_rectified": "located_clahe"}
"""Rectified redraws (:mod:`scanner.decoding.rectify`) and the variant each is drawn from:
the frame, or the equalised crop of a code located but not read (its finder patterns are
large there, and equalised they survive glare)."""
_PLANNED_REDRAWN_READ_MS = 2.0
"""Room kept for reading the rectified redraw (a clean image of at most 700x700 px)."""


@dataclass(frozen=True)
class DecoderConfig:
    """Which backends run, in which order, and how long one frame may take.

    ``backends`` names come from ``BACKEND_NAMES``; the first is the primary, the others
    are fallbacks, run as ``fallbacks`` says: ``background`` (a scanner's frames: off the
    frame path, results on a later call), ``inline`` (stills), or ``off``. ``max_side`` is
    the longest side, in pixels, a frame is shrunk to before decoding.
    """

    backends: tuple[str, ...] = BACKEND_NAMES
    budget_ms: float = DEFAULT_BUDGET_MS
    max_side: int = preprocess.MAX_SIDE_PX
    fallbacks: Fallbacks = "background"

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
        if self.fallbacks not in ("background", "inline", "off"):
            raise ValueError(f"fallbacks must be background, inline or off: {self.fallbacks!r}")


@dataclass(frozen=True)
class DecodeResult:
    """What one frame held.

    ``texts`` are the distinct QR payloads, in the order found (empty if none). ``backend``
    and ``variant`` name the step that found them (``None`` if nothing was found). ``ms``
    is the wall time spent on the frame. ``exhausted`` is true when the budget ran out
    before every planned step was tried, so "nothing found" may only mean "no time".
    ``code_like`` is false when the frame was judged to hold no code at all (the cheap look
    found no finder pattern): nothing more was tried. ``steps`` counts the library calls
    made. ``late`` marks texts the background lane read from an earlier frame.
    """

    texts: tuple[str, ...]
    backend: str | None
    ms: float
    variant: str | None
    exhausted: bool = False
    code_like: bool = True
    steps: int = 0
    late: bool = False


@dataclass(frozen=True)
class _Step:
    backend: Backend
    cost_key: str
    variant: str
    label: str


@dataclass
class _Run:
    """One frame's progress through the plan."""

    started: float
    planned_ms: float = 0.0
    steps: int = 0
    skipped: bool = False


class Decoder:
    """Decodes frames with one ``DecoderConfig``. Not thread-safe: one per scanning thread
    (with ``fallbacks="background"`` it owns one helper thread of its own)."""

    def __init__(
        self, config: DecoderConfig | None = None, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.config = config or DecoderConfig()
        self._clock = clock
        primary, fallback = _build_plan(self.config.backends)
        self._steps = primary
        self._fallback_steps = () if self.config.fallbacks == "off" else fallback
        self._lane: _FallbackLane | None = None
        if self.config.fallbacks == "background" and self._fallback_steps:
            # The lane gets its own backend objects: library readers are not shared
            # between threads.
            _, lane_steps = _build_plan(self.config.backends)
            self._lane = _FallbackLane(lane_steps)

    @property
    def backends(self) -> tuple[str, ...]:
        """The configured backends that loaded, in order."""
        steps = (*self._steps, *self._fallback_steps)
        return tuple(dict.fromkeys(step.cost_key for step in steps))

    def decode(self, image: npt.NDArray[np.generic]) -> DecodeResult:
        """Every QR text in ``image`` (gray, BGR or BGRA uint8), within the time budget.

        The first step (the primary backend on the shrunk frame) always runs. Every later
        step MUST fit the planned budget and start before the deadline. With background
        fallbacks, a frame that finds nothing returns what the lane has read since the last
        call, if anything (``late``).

        Raises ``ValueError`` for an image that is not an 8-bit picture.
        """
        run = _Run(started=self._clock())
        deadline = run.started + self.config.budget_ms / 1000
        full = preprocess.to_gray(image)
        frame, halved = preprocess.shrink(full, self.config.max_side)
        variants = _VariantCache(full, frame, halved)

        first = self._steps[0]
        texts, located = _read_first(first, frame)
        run.steps = 1
        run.planned_ms = _planned_ms(first, frame)
        if texts:
            return self._result(texts, first, run)
        variants.located = largest(located)
        # The look serves camera frames. A frame larger than max_side is a still photo
        # (shrinking may have lost a small code's finder patterns): it gets the whole plan.
        shrunk = full.shape != frame.shape
        if not located and not shrunk and not _looks_code_like(variants, frame):
            return self._late_or_nothing(run, code_like=False)
        for step in self._steps[1:]:
            found = self._try(step, variants, run, deadline)
            if found:
                return self._result(found, step, run)
        if self._lane is not None:
            self._lane.offer(full, frame)
            return self._late_or_nothing(run)
        for step in self._fallback_steps:
            found = self._try(step, variants, run, deadline)
            if found:
                return self._result(found, step, run)
        return self._result((), None, run)

    def close(self) -> None:
        """Stop the background lane (if any); further calls decode without it."""
        if self._lane is not None:
            self._lane.stop()
            self._lane = None

    def _try(
        self, step: _Step, variants: _VariantCache, run: _Run, deadline: float
    ) -> tuple[str, ...]:
        if self._clock() >= deadline:
            run.skipped = True
            return ()
        if step.variant in _REDRAWN and not variants.made(step.variant):
            # The redraw plans its own parts (finder search, each candidate grid) within
            # what is left, keeping room for reading its small image; what it is drawn from
            # is planned first.
            source = _REDRAWN[step.variant]
            run.planned_ms += variants.making_ms(source)
            room = self.config.budget_ms - run.planned_ms - _PLANNED_REDRAWN_READ_MS
            planned, complete = variants.rectify(step.variant, room)
            run.planned_ms += planned
            run.skipped = run.skipped or not complete
        # A costly variant is planned before it is made: making it is most of its cost.
        making = variants.making_ms(step.variant)
        if run.planned_ms + making + PLANNED_OVERHEAD_MS > self.config.budget_ms:
            run.skipped = True
            return ()
        gray = variants.get(step.variant)
        if gray is None:
            run.planned_ms += making
            return ()
        cost = making + _planned_ms(step, gray)
        if run.planned_ms + cost > self.config.budget_ms:
            run.skipped = True
            return ()
        run.planned_ms += cost
        run.steps += 1
        return tuple(dict.fromkeys(step.backend.read(gray)))

    def _late_or_nothing(self, run: _Run, *, code_like: bool = True) -> DecodeResult:
        late = self._lane.take() if self._lane is not None else None
        if late is not None:
            texts, step = late
            return self._result(texts, step, run, late=True)
        return self._result((), None, run, code_like=code_like)

    def _result(
        self,
        texts: tuple[str, ...],
        step: _Step | None,
        run: _Run,
        *,
        code_like: bool = True,
        late: bool = False,
    ) -> DecodeResult:
        return DecodeResult(
            texts=tuple(dict.fromkeys(texts)),
            backend=step.backend.name if step else None,
            ms=(self._clock() - run.started) * 1000,
            variant=step.label if step else None,
            exhausted=run.skipped and not texts,
            code_like=code_like,
            steps=run.steps,
            late=late,
        )


def _looks_code_like(variants: _VariantCache, frame: Gray) -> bool:
    """The cheap look for finder patterns; in a dark frame on its brightened copy (the look's
    threshold offset would take a dim code's finder patterns for flat grey)."""
    if finder_like(frame):
        return True
    brightened = variants.get("brighten")
    return brightened is not None and finder_like(brightened) > 0


def _read_first(step: _Step, frame: Gray) -> tuple[tuple[str, ...], list[Quad]]:
    """The first step's texts, and where it located codes it could not read."""
    if isinstance(step.backend, ZxingBackend) and step.variant == "original":
        texts, located = step.backend.read_located(frame)
        if isinstance(located, bool):  # a stand-in that only says whether (tests' fakes)
            located = [np.zeros((4, 2))] if located else []
        return tuple(dict.fromkeys(texts)), located
    return tuple(dict.fromkeys(step.backend.read(frame))), []


def _planned_ms(step: _Step, gray: Gray) -> float:
    return PLANNED_OVERHEAD_MS + PLANNED_MS_PER_MPX[step.cost_key] * gray.size / 1e6


class _FallbackLane:
    """One thread that runs the slow fallbacks on the newest code-like frame the frame
    path could not read. At most one frame waits (a newer one replaces it) and one result
    is kept (the newest), so a slow call never queues up behind itself."""

    def __init__(self, steps: tuple[_Step, ...]) -> None:
        self._steps = steps
        self._frames: queue.Queue[tuple[Gray, Gray] | None] = queue.Queue(maxsize=1)
        self._result: tuple[tuple[str, ...], _Step] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="qr-fallbacks", daemon=True)
        self._thread.start()

    def offer(self, full: Gray, frame: Gray) -> None:
        """Queue a frame, replacing one still waiting."""
        with contextlib.suppress(queue.Empty):
            self._frames.get_nowait()
        # Only offer() and stop() put, from the decoding thread: the queue has room now.
        with contextlib.suppress(queue.Full):
            self._frames.put_nowait((full, frame))

    def take(self) -> tuple[tuple[str, ...], _Step] | None:
        """The newest result not taken yet, or None."""
        with self._lock:
            result, self._result = self._result, None
        return result

    def stop(self) -> None:
        with contextlib.suppress(queue.Empty):
            self._frames.get_nowait()
        self._frames.put(None)
        self._thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            item = self._frames.get()
            if item is None:
                return
            variants = _VariantCache(*item)
            for step in self._steps:
                gray = variants.get(step.variant)
                if gray is None:
                    continue
                texts = tuple(dict.fromkeys(step.backend.read(gray)))
                if texts:
                    with self._lock:
                        self._result = (texts, step)
                    break


_CROP_VARIANTS = {
    "located_sharpen": preprocess.sharpen,
    "located_threshold": preprocess.adaptive_threshold,
    "located_clahe": preprocess.clahe,
}


class _VariantCache:
    """Computes each image variant of one frame at most once, on first use."""

    def __init__(self, full: Gray, frame: Gray, halved: Gray | None = None) -> None:
        self._full = full
        self._frame = frame
        self._halved = halved
        self._made: dict[str, Gray | None] = {}
        self.located: Quad | None = None
        """Where the first read located a code it could not read (frame coordinates)."""

    def made(self, name: str) -> bool:
        return name in self._made

    def rectify(self, name: str, plan_ms: float) -> tuple[float, bool]:
        """Make redraw ``name`` (a key of ``_REDRAWN``) within ``plan_ms`` planned: its
        planned cost, and whether every candidate grid was tried."""
        source = self.get(_REDRAWN[name])
        if source is None:
            self._made[name] = None
            return 0.0, True
        self._made[name], planned, complete = rectified_within(source, plan_ms)
        return planned, complete

    def making_ms(self, name: str) -> float:
        """The planned cost of making variant ``name`` now (0 once made: made only once)."""
        if name in self._made:
            return 0.0
        rate = PLANNED_VARIANT_MS_PER_MPX.get(name, 0.0)
        if name == "located":
            box = (
                None if self.located is None else source_box(self._full, self._frame, self.located)
            )
            return 0.0 if box is None else rate * (box[2] - box[0]) * (box[3] - box[1]) / 1e6
        if name.startswith("located_"):
            if self.located is None or source_box(self._full, self._frame, self.located) is None:
                return 0.0  # no crop: nothing to make
            crop_mpx = CROP_SIDE_PX * CROP_SIDE_PX / 1e6
            return self.making_ms("located") + rate * crop_mpx
        if name.startswith("half_resolution"):
            return 0.0 if self._halved is None else rate * self._halved.size / 1e6
        return rate * self._frame.size / 1e6

    def get(self, name: str) -> Gray | None:
        if name not in self._made:
            if name == "original":
                self._made[name] = self._frame
            elif name in _REDRAWN:
                source = self.get(_REDRAWN[name])  # the lane: no plan
                self._made[name] = None if source is None else rectified(source)
            elif name == "located":
                spot = self.located
                self._made[name] = (
                    None if spot is None else located_crop(self._full, self._frame, spot)
                )
            elif name.startswith("located_"):
                crop = self.get("located")
                self._made[name] = None if crop is None else _CROP_VARIANTS[name](crop)
            elif name == "half_resolution":
                # Brightened when dark: one read where two would not fit the budget.
                halved = self._halved
                lifted = None if halved is None else preprocess.brighten(halved)
                self._made[name] = halved if lifted is None else lifted
            elif name == "full_resolution":
                shrunk = self._full.shape != self._frame.shape
                self._made[name] = self._full if shrunk else None
            else:
                self._made[name] = preprocess.VARIANTS[name](self._frame)
        return self._made[name]


def _build_plan(backend_names: tuple[str, ...]) -> tuple[tuple[_Step, ...], tuple[_Step, ...]]:
    """The primary backend's steps and the fallbacks' steps (backends that failed to load
    are left out; if the primary failed, the first that loaded is the primary)."""
    plans: list[list[_Step]] = []
    for name in backend_names:
        steps: list[_Step] = []
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
        else:
            backend = load_backend(name)
            if backend is None:
                continue
            steps.extend(_Step(backend, name, variant, variant) for variant, _ in _STEPS[name])
        plans.append(steps)
    if not plans:
        raise RuntimeError("no QR backend could be loaded: install zxing-cpp")
    return tuple(plans[0]), tuple(step for plan in plans[1:] for step in plan)
