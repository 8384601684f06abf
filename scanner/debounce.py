"""Debouncing: one card held in front of the camera is one scan, not one per frame.

Rules (times from the injected monotonic clock, seconds):

- A *presentation* is the same text in consecutive frames; it ends at the first frame
  without it. Only its first frame is a ``NEW`` scan; the rest are ``CONTINUING``.
- The same text presented again within ``repeat_window_s`` (default 5 s) of the last time it
  was seen after a verdict is a ``REPEAT``: the caller shows the remembered verdict again and
  records nothing. A card held still therefore never produces a second crossing, and a
  decoder that misses a frame or two does not either.
- Later than that it is ``NEW`` again: a real second crossing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")


class Seen(Enum):
    """What a sighting of a code means for the scan loop."""

    NEW = "new"
    CONTINUING = "continuing"
    REPEAT = "repeat"


@dataclass(frozen=True)
class Sighting(Generic[T]):
    """The outcome of :meth:`Debouncer.see`; ``previous`` is set for ``REPEAT``."""

    seen: Seen
    text: str
    previous: T | None = None


@dataclass
class _Memory(Generic[T]):
    value: T
    last_seen: float


class Debouncer(Generic[T]):
    """Tracks the current presentation and remembered verdicts (of any type ``T``)."""

    def __init__(
        self, *, repeat_window_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.repeat_window_s = repeat_window_s
        self._clock = clock
        self._current: str | None = None
        self._memory: dict[str, _Memory[T]] = {}

    def see(self, text: str, at: float | None = None) -> Sighting[T]:
        """A frame (or a typed line) showed ``text`` at ``at`` (default: the clock)."""
        at = self._clock() if at is None else at
        memory = self._memory.get(text)
        if text == self._current:
            if memory is not None:
                memory.last_seen = at
            return Sighting(Seen.CONTINUING, text)
        self._current = text
        if memory is not None and at - memory.last_seen <= self.repeat_window_s:
            memory.last_seen = at
            return Sighting(Seen.REPEAT, text, memory.value)
        return Sighting(Seen.NEW, text)

    def nothing(self) -> None:
        """A frame showed no code: the current presentation has ended."""
        self._current = None

    def remember(self, text: str, value: T, at: float | None = None) -> None:
        """Remember the verdict for ``text`` (call once it is shown); forgets expired ones."""
        at = self._clock() if at is None else at
        self._memory = {
            key: memory
            for key, memory in self._memory.items()
            if at - memory.last_seen <= self.repeat_window_s
        }
        self._memory[text] = _Memory(value, at)
