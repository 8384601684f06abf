"""Clock integrity: the scanner never decides at a time it knows to be wrong.

The device keeps a durable high-water mark of time it has seen (``meta.clock_mark`` in the
journal): the scan time of its newest crossing (:meth:`Journal.record` raises it in the same
transaction) and the server's time at each bundle fetch and sync answer
(:func:`observe_server_time`). Before each decision :class:`ClockGuard` checks the
offset-corrected clock:

- **behind**: earlier than the mark by more than ``tolerance`` (2 min), or earlier than the
  bundle's server time (a bundle age below zero): the clock went back;
- **jumped**: while the process runs, the clock moved more than ``tolerance`` away from the
  monotonic clock since the last good check (a jump either way, e.g. a clock set by hand);
- **ahead**: at start (no monotonic reference yet), later than the mark by more than
  ``max_jump`` (default: the bundle's maximum age).

Any of these is a clock fault: the scan is refused with the code ``clock_fault`` (reason
设备时钟异常，请联系值班负责人), journaled and uploaded like any refusal (it never raises the
mark and changes no household state), and nothing is decided until a later check passes: the
clock is set right, or the sync thread hears the server's time again (a new anchor), which
re-estimates the offset.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from passes import Code, format_utc, parse_utc, reason
from scanner.journal import CLOCK_MARK_KEY

CLOCK_FAULT = str(Code.CLOCK_FAULT)
"""The device clock cannot be trusted; nothing is decided (``Code.CLOCK_FAULT``)."""
CLOCK_FAULT_REASONS = (reason(Code.CLOCK_FAULT, "zh"), reason(Code.CLOCK_FAULT, "en"))
MARK_KEY = CLOCK_MARK_KEY
"""Meta key: the newest time this device has seen (ISO UTC)."""
ANCHOR_KEY = "clock_anchor"
"""Meta key: the last server time heard, ``{"server_at", "device_at"}`` (ISO UTC)."""
DEFAULT_TOLERANCE = timedelta(minutes=2)
DEFAULT_MAX_JUMP = timedelta(hours=24)

Problem = Literal["behind", "behind_bundle", "jumped", "ahead"]


def boot_clock() -> float:
    """Seconds since boot, counting suspended time (a suspended gate is not a clock jump);
    ``time.monotonic`` where there is no boot clock."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.monotonic() if boottime is None else time.clock_gettime(boottime)


class MetaStore(Protocol):
    """The journal's meta table."""

    def get_meta(self, key: str, default: object = None) -> Any: ...

    def set_meta(self, **values: object) -> None: ...


@dataclass(frozen=True)
class ClockCheck:
    """One check: ``problem`` is None when the clock is sane."""

    now: datetime
    mark: datetime | None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """No fault."""
        return self.problem is None


def read_mark(store: MetaStore) -> datetime | None:
    """The stored high-water mark, or None."""
    try:
        return parse_utc(store.get_meta(MARK_KEY))
    except ValueError:
        return None


def observe_server_time(store: MetaStore, server_at: datetime, device_at: datetime) -> None:
    """The server said it is ``server_at`` (device clock ``device_at``): raise the mark and set
    a new anchor (a fault clears once the offset is re-estimated from it)."""
    mark = read_mark(store)
    values: dict[str, object] = {
        ANCHOR_KEY: {"server_at": format_utc(server_at), "device_at": format_utc(device_at)}
    }
    if mark is None or server_at > mark:
        values[MARK_KEY] = format_utc(server_at)
    store.set_meta(**values)


def check_static(
    now: datetime,
    mark: datetime | None,
    bundle_generated_at: datetime | None,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    max_jump: timedelta | None = DEFAULT_MAX_JUMP,
) -> ClockCheck:
    """The checks that need no monotonic reference (also what ``status`` shows)."""
    if bundle_generated_at is not None and now < bundle_generated_at - tolerance:
        return ClockCheck(now, mark, "behind_bundle")  # first: a bundle age below zero
    if mark is not None and now < mark - tolerance:
        return ClockCheck(now, mark, "behind")
    if max_jump is not None and mark is not None and now > mark + max_jump:
        return ClockCheck(now, mark, "ahead")
    return ClockCheck(now, mark)


class ClockGuard:
    """Checks the decision clock before every decision (see the module doc). Not thread-safe:
    one per decision thread."""

    def __init__(
        self,
        store: MetaStore,
        *,
        bundle_time: Callable[[], datetime | None] = lambda: None,
        monotonic: Callable[[], float] = boot_clock,
        tolerance: timedelta = DEFAULT_TOLERANCE,
        max_jump: timedelta = DEFAULT_MAX_JUMP,
    ) -> None:
        self._store = store
        self._bundle_time = bundle_time
        self._monotonic = monotonic
        self.tolerance = tolerance
        self.max_jump = max_jump
        self._reference: tuple[datetime, float] | None = None
        self._anchor: object = None
        self.last: ClockCheck | None = None

    def check(self, now: datetime) -> ClockCheck:
        """Check ``now`` (the offset-corrected clock) and remember the result in :attr:`last`."""
        mono = self._monotonic()
        anchor = self._store.get_meta(ANCHOR_KEY)
        if anchor != self._anchor:  # the server's time was heard: start a new reference
            self._anchor, self._reference = anchor, None
        result = check_static(
            now,
            read_mark(self._store),
            self._bundle_time(),
            tolerance=self.tolerance,
            max_jump=self.max_jump if self._reference is None else None,
        )
        if result.ok and self._reference is not None:
            then, then_mono = self._reference
            drift = (now - then) - timedelta(seconds=mono - then_mono)
            if abs(drift) > self.tolerance:
                result = ClockCheck(now, result.mark, "jumped")
        if result.ok:
            self._reference = (now, mono)
        self.last = result
        return result
