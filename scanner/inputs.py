"""Input plumbing of the gate process: keys typed into the window, and several frame sources
at once.

`KeyRouter` tells a keyboard-wedge scanner typing into the window (a fast burst ending in
Enter: a scan) from a person's keys (temperature, direction, menu choices). `MergedSource`
runs a camera and a wedge scanner side by side and yields ``None`` whenever nothing arrived
for a moment, so the scan loop keeps its window alive while it waits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from scanner.frames import (
    MAX_TYPED_CODE_CHARS,
    Captured,
    Clock,
    Frame,
    FrameSource,
    FrameSourceError,
    TypedCode,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Key:
    """One key typed into the window: ``name`` is a printable character or one of ``enter``,
    ``backspace``, ``escape``, ``left``, ``right``, ``up``, ``down``; ``at`` is in seconds on
    the key source's own clock (only differences between keys mean anything: a wedge scanner
    types far faster than a person)."""

    name: str
    at: float


WEDGE_GAP_S = 0.05
"""Keys at most this far apart (key clock) belong to one run; people type slower than this."""
WEDGE_MIN_CHARS = 8
"""A run this long is a wedge scanner, not a person (a temperature is 3 or 4 keys)."""
KEY_SETTLE_S = 0.1
"""A run is complete when no key followed it for this long (loop clock)."""
WEDGE_STALL_S = 0.5
"""A wedge burst already `WEDGE_MIN_CHARS` long may pause this long and go on (a busy machine,
a USB hiccup): measured under Xvfb with a load average of 14, ``xdotool type`` stalled
mid-pass past `WEDGE_GAP_S`."""


class KeyRouter:
    """Splits the keys typed into the window into wedge scans and a person's keys.

    Keys are grouped into runs (each key within `WEDGE_GAP_S` of the previous one; within
    `WEDGE_STALL_S` once the run is a wedge's). A run of at least `WEDGE_MIN_CHARS`
    characters ending in Enter is a `TypedCode` at once (stripped of
    control characters, at most `MAX_TYPED_CODE_CHARS`); a long run without Enter is dropped
    (a wedge misread); a short run is a person's keys, given back one by one in order. So a
    pass typed by a wedge never moves the direction or types a temperature, and a person's
    key is handed on at most `KEY_SETTLE_S` after it was typed.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._run: list[Key] = []
        self._last_fed = float("-inf")
        self._ready: list[Key | TypedCode] = []

    def feed(self, key: Key) -> None:
        """Add one key typed into the window."""
        if self._run:
            gap = key.at - self._run[-1].at
            if gap > (WEDGE_STALL_S if self._wedge_like() else WEDGE_GAP_S) or gap < 0:
                self._finish()
        self._run.append(key)
        self._last_fed = self._clock()
        if key.name == "enter" and self._wedge_like():
            self._finish()

    def take(self) -> list[Key | TypedCode]:
        """Everything settled so far: person keys and wedge codes, in typing order."""
        settle = WEDGE_STALL_S if self._wedge_like() else KEY_SETTLE_S
        if self._run and self._clock() - self._last_fed >= settle:
            self._finish()
        ready, self._ready = self._ready, []
        return ready

    def _wedge_like(self) -> bool:
        return sum(len(key.name) == 1 for key in self._run) >= WEDGE_MIN_CHARS

    def _finish(self) -> None:
        run, self._run = self._run, []
        chars = [key.name for key in run if len(key.name) == 1]
        if len(chars) < WEDGE_MIN_CHARS:
            self._ready.extend(run)
            return
        if run[-1].name != "enter":
            log.warning("dropping %d fast keys without Enter (a wedge misread?)", len(chars))
            return
        text = "".join(ch for ch in chars if ch.isprintable()).strip()
        if len(text) > MAX_TYPED_CODE_CHARS:
            log.warning("dropping a typed code of %d characters", len(text))
            return
        self._ready.append(TypedCode(text, self._clock()))


_END: Final = object()


class MergedSource:
    """Several sources at once (a camera and a wedge scanner): each runs in its own thread and
    hands its items over a small queue, so a slow consumer slows the producers rather than
    losing items. Iteration yields items in arrival order, and ``None`` whenever nothing
    arrived for ``tick_s`` seconds (the loop refreshes its window then); it ends when every
    source has ended, and re-raises a source's `FrameSourceError`."""

    def __init__(self, sources: Sequence[FrameSource], *, tick_s: float = 0.03) -> None:
        self._sources = list(sources)
        self._tick_s = tick_s
        self._queue: queue.Queue[Captured | BaseException | object] = queue.Queue(maxsize=2)
        self._closed = threading.Event()
        self._threads = [
            threading.Thread(target=self._pump, args=(src,), name="frames", daemon=True)
            for src in self._sources
        ]
        self._started = False

    def _put(self, item: Captured | BaseException | object) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _pump(self, source: FrameSource) -> None:
        try:
            for item in source:
                if not self._put(item):
                    return
        except FrameSourceError as exc:
            self._put(exc)
        except Exception as exc:  # a broken device must not kill the gate silently
            log.exception("frame source failed")
            self._put(FrameSourceError(f"画面来源故障 / frame source failed: {exc}"))
        self._put(_END)

    def __iter__(self) -> Iterator[Captured | None]:
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()
        running = len(self._threads)
        forever = not self._threads  # only the window's keys: until the window is closed
        while (running or forever) and not self._closed.is_set():
            try:
                item = self._queue.get(timeout=self._tick_s)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            elif isinstance(item, Frame | TypedCode):
                yield item

    def __enter__(self) -> MergedSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every source and stop the threads; idempotent."""
        self._closed.set()
        for source in self._sources:
            source.close()
