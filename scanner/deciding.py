"""One verdict per scan: ask the server, and decide alone from the bundle if it does not answer.

Contract of :meth:`Decider.decide`:

- Online first: ``POST /scans`` with the crossing's client UUID. The whole call is bounded by
  ``deadline_s - offline_reserve_s`` (default 1.5 s - 0.25 s); on timeout, network error, 5xx
  or 4xx the scanner decides offline with :func:`passes.decide` and the cached bundle, marks
  the crossing offline, and skips the server for ``retry_online_after_s`` so the next person
  does not wait for a dead network again.
- Offline household label: ``住户 #<household_id>`` (no personal data on the device).
- No bundle at all: refused with the scanner code ``no_bundle``.
- Clock integrity (:mod:`scanner.clock`): with a guard, the clock is checked first; a clock
  fault refuses with the scanner code ``clock_fault`` (设备时钟异常，请联系值班负责人) without
  asking the server or the bundle. Without a guard, an offline decision at a time before the
  bundle's server time (beyond the tolerance) is a clock fault too: a bundle age below zero.
- Every decision carries ``clock_offset_ms``, the device's clock minus the server's (sent on
  the online scan and on the offline upload).
- Degraded mode: when the bundle is older than ``max_bundle_age`` (default 24 h), an offline
  decision that would allow is turned into a refusal ``stale_bundle``, unless a supervisor
  override is given (then it is allowed, noted ``stale_bundle`` and ``override``). Refusals stay
  as the core decided them. Online decisions are never degraded: the server is the truth.

A request that timed out may still reach the server; its later upload under the same UUID is
then answered ``duplicate`` and the server keeps its own (online) verdict for that UUID.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from passes import (
    Code,
    Direction,
    HouseholdState,
    Override,
    PassError,
    Verdict,
    advance,
    decide,
    parse_pass,
    reason,
    wire,
)
from passes.rules import DEFAULT_TIMEZONE
from scanner.api_client import ApiError
from scanner.bundle import Bundle, LocalStates
from scanner.clock import CLOCK_FAULT, CLOCK_FAULT_REASONS, DEFAULT_TOLERANCE, ClockGuard

STALE_BUNDLE = str(Code.STALE_BUNDLE)
"""Offline data older than the limit; only a supervisor may let through (``Code.STALE_BUNDLE``)."""
NO_BUNDLE = "no_bundle"
"""Scanner-side code: offline and no bundle was ever fetched."""

SCANNER_REASONS: dict[str, tuple[str, str]] = {
    STALE_BUNDLE: (reason(Code.STALE_BUNDLE, "zh"), reason(Code.STALE_BUNDLE, "en")),
    NO_BUNDLE: ("设备无离线数据，无法判断", "No offline data on this device"),
    CLOCK_FAULT: CLOCK_FAULT_REASONS,
}
Display = wire.Display


@dataclass(frozen=True)
class ScanRequest:
    """One presented pass, ready to decide. ``temperature`` is integer tenths or None."""

    pass_text: str
    direction: Direction
    temperature: int | None
    operator: str | None = None
    override: Override | None = None
    crossing_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Decision:
    """A verdict as the scanner shows, journals and uploads it (online or offline)."""

    crossing_id: str
    direction: Direction
    scanned_at: datetime
    allowed: bool
    display: Display
    code: str | None
    codes: tuple[str, ...]
    notes: tuple[str, ...]
    reason_zh: str
    reason_en: str
    next_exit_at: datetime | None
    rule_version: int
    household_id: int | None
    household_label: str | None
    offline: bool
    degraded: bool = False
    state_after: HouseholdState | None = None
    server_crossing_id: int | None = None
    timezone: str = DEFAULT_TIMEZONE
    online_error: str | None = None
    temperature: int | None = None
    clock_offset_ms: int | None = None

    def reason(self, lang: str = "zh") -> str:
        """The one-line reason in ``lang``."""
        return self.reason_en if lang.startswith("en") else self.reason_zh

    def wire_verdict(self) -> dict[str, Any]:
        """The verdict as stored in the journal: the wire verdict, plus what only the gate
        needs (the household label shown, whether the bundle was stale)."""
        verdict = wire.Verdict(
            allowed=self.allowed,
            display=self.display,
            code=self.code,
            codes=self.codes,
            notes=self.notes,
            reason_zh=self.reason_zh,
            reason_en=self.reason_en,
            next_exit_at=self.next_exit_at,
            rule_version=self.rule_version,
        )
        return {
            **verdict.to_json(),
            "household_label": self.household_label,
            "degraded": self.degraded,
        }


class ScanClient(Protocol):
    """The part of :class:`scanner.api_client.ApiClient` the decider uses."""

    def scan(self, scan: wire.Scan, *, deadline_s: float = 1.5) -> wire.ScanAnswer: ...


@dataclass(frozen=True)
class DecidingConfig:
    """Timing and degraded-mode limits (seconds unless noted)."""

    deadline_s: float = 1.5
    offline_reserve_s: float = 0.25
    max_bundle_age: timedelta = timedelta(hours=24)
    retry_online_after_s: float = 30.0


class Decider:
    """Online-then-offline decisions. ``now`` is the offset-corrected UTC clock; ``monotonic``
    times the skip-the-server window. ``client`` None means offline-only."""

    def __init__(
        self,
        *,
        client: ScanClient | None,
        bundles: Callable[[], Bundle | None],
        local: LocalStates | None,
        now: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        config: DecidingConfig | None = None,
        guard: ClockGuard | None = None,
        offset_ms: Callable[[], int | None] = lambda: None,
    ) -> None:
        self._client = client
        self._bundles = bundles
        self._local = local
        self._now = now
        self._monotonic = monotonic
        self._guard = guard
        self._offset_ms = offset_ms
        self.config = config or DecidingConfig()
        self._skip_online_until = float("-inf")
        self.online = client is not None
        """Whether the last decision came from the server."""

    def decide(self, request: ScanRequest) -> Decision:
        """Decide ``request``; never raises for server trouble (see module docstring)."""
        scanned_at = self._now()
        offset_ms = self._offset_ms()
        bundle = self._bundles()
        if self._guard is not None and not self._guard.check(scanned_at).ok:
            self.online = False
            fault = _scanner_refusal(
                request,
                scanned_at,
                CLOCK_FAULT,
                household_id=_household_id(request.pass_text),
                rule_version=0 if bundle is None else bundle.rules.version,
                online_error=None,
                timezone=DEFAULT_TIMEZONE if bundle is None else bundle.timezone,
            )
            return replace(fault, clock_offset_ms=offset_ms)
        error: str | None = None
        if self._client is not None and self._monotonic() >= self._skip_online_until:
            answer = self._ask_server(request, scanned_at, offset_ms)
            if isinstance(answer, wire.ScanAnswer):
                self.online = True
                decided = from_server(request, answer, scanned_at, bundle, self._local)
                return replace(decided, clock_offset_ms=offset_ms)
            error = answer
            self._skip_online_until = self._monotonic() + self.config.retry_online_after_s
        self.online = False
        decided = decide_offline(
            request,
            bundle,
            local=self._local,
            scanned_at=scanned_at,
            max_bundle_age=self.config.max_bundle_age,
            online_error=error,
        )
        return replace(decided, clock_offset_ms=offset_ms)

    def retry_online_now(self) -> None:
        """Forget the last network failure (e.g. the uploader just reached the server)."""
        self._skip_online_until = float("-inf")

    def _ask_server(
        self, request: ScanRequest, scanned_at: datetime, offset_ms: int | None
    ) -> wire.ScanAnswer | str:
        client = self._client
        assert client is not None
        wait_s = max(self.config.deadline_s - self.config.offline_reserve_s, 0.05)
        message = scan_message(request, scanned_at, offset_ms)
        box: queue.Queue[wire.ScanAnswer | str] = queue.Queue(maxsize=1)

        def call() -> None:
            try:
                box.put(client.scan(message, deadline_s=wait_s))
            except ApiError as exc:
                box.put(f"{type(exc).__name__}: {exc}")

        # A thread bounds the *total* time; httpx only bounds each phase of the request.
        threading.Thread(target=call, name="scan-request", daemon=True).start()
        try:
            return box.get(timeout=wait_s)
        except queue.Empty:
            return f"no answer within {wait_s:.2f} s"


def scan_message(
    request: ScanRequest, scanned_at: datetime, clock_offset_ms: int | None = None
) -> wire.Scan:
    """The ``POST /scans`` body (``checkpoint.scan.v1``)."""
    return wire.Scan(
        id=request.crossing_id,
        pass_text=request.pass_text,
        direction=request.direction,
        temperature=request.temperature,
        scanned_at=scanned_at,
        operator=request.operator,
        override=request.override,
        latency_ms=None,
        clock_offset_ms=clock_offset_ms,
    )


def household_label(household_id: int | None) -> str | None:
    """The offline label: an opaque number only."""
    return None if household_id is None else f"住户 #{household_id}"


def _household_id(text: str) -> int | None:
    try:
        return parse_pass(text).fields.household_id
    except PassError:
        return None


def from_server(
    request: ScanRequest,
    answer: wire.ScanAnswer,
    scanned_at: datetime,
    bundle: Bundle | None,
    local: LocalStates | None,
) -> Decision:
    """A server verdict as a Decision; advances the local household state if it allowed."""
    verdict = answer.verdict
    household_id = _household_id(request.pass_text)
    state_after = None
    if verdict.allowed and bundle is not None and household_id is not None:
        state = bundle.household(household_id, local)
        if state is not None:
            state_after = advance(state, request.direction, True, scanned_at, bundle.rules)
    return Decision(
        crossing_id=request.crossing_id,
        direction=request.direction,
        scanned_at=scanned_at,
        allowed=verdict.allowed,
        display=verdict.display,
        code=verdict.code,
        codes=verdict.codes,
        notes=verdict.notes,
        reason_zh=verdict.reason_zh,
        reason_en=verdict.reason_en,
        next_exit_at=verdict.next_exit_at,
        rule_version=verdict.rule_version,
        household_id=household_id,
        household_label=answer.household_label,
        offline=False,
        state_after=state_after,
        server_crossing_id=answer.crossing_id,
        timezone=bundle.timezone if bundle is not None else DEFAULT_TIMEZONE,
        temperature=request.temperature,
    )


def decide_offline(
    request: ScanRequest,
    bundle: Bundle | None,
    *,
    local: LocalStates | None,
    scanned_at: datetime,
    max_bundle_age: timedelta,
    online_error: str | None = None,
) -> Decision:
    """Decide with the core and the bundle, then apply the degraded-mode rule."""
    if bundle is None:
        return _scanner_refusal(
            request,
            scanned_at,
            NO_BUNDLE,
            household_id=None,
            rule_version=0,
            online_error=online_error,
        )
    household_id = _household_id(request.pass_text)
    if scanned_at < bundle.generated_at - DEFAULT_TOLERANCE:  # a bundle age below zero
        return _scanner_refusal(
            request,
            scanned_at,
            CLOCK_FAULT,
            household_id=household_id,
            rule_version=bundle.rules.version,
            online_error=online_error,
            timezone=bundle.timezone,
        )
    household = None if household_id is None else bundle.household(household_id, local)
    verdict = decide(
        request.pass_text,
        keys=bundle.keys,
        community_id=bundle.community_id,
        household=household,
        revoked_pass_ids=bundle.revoked_pass_ids,
        rules=bundle.rules,
        direction=request.direction,
        temperature=request.temperature,
        now=scanned_at,
        override=request.override,
    )
    degraded = bundle.age(scanned_at) > max_bundle_age
    if degraded and verdict.allowed and request.override is None:
        return _scanner_refusal(
            request,
            scanned_at,
            STALE_BUNDLE,
            household_id=verdict.household_id,
            rule_version=verdict.rule_version,
            online_error=online_error,
            degraded=True,
            timezone=bundle.timezone,
        )
    return _from_verdict(request, verdict, scanned_at, degraded, online_error)


def _from_verdict(
    request: ScanRequest,
    verdict: Verdict,
    scanned_at: datetime,
    degraded: bool,
    online_error: str | None,
) -> Decision:
    notes = tuple(str(note) for note in verdict.notes)
    if degraded and verdict.allowed:  # allowed in degraded mode only by a supervisor
        notes = (
            (*notes, STALE_BUNDLE) if "override" in notes else (*notes, STALE_BUNDLE, "override")
        )
    return Decision(
        crossing_id=request.crossing_id,
        direction=request.direction,
        scanned_at=scanned_at,
        allowed=verdict.allowed,
        display=verdict.display,
        code=None if verdict.code is None else str(verdict.code),
        codes=tuple(str(code) for code in verdict.codes),
        notes=notes,
        reason_zh=verdict.reason("zh"),
        reason_en=verdict.reason("en"),
        next_exit_at=verdict.next_exit_at,
        rule_version=verdict.rule_version,
        household_id=verdict.household_id,
        household_label=household_label(verdict.household_id),
        offline=True,
        degraded=degraded,
        state_after=verdict.state_after,
        timezone=verdict.timezone,
        online_error=online_error,
        temperature=request.temperature,
    )


def _scanner_refusal(
    request: ScanRequest,
    scanned_at: datetime,
    code: str,
    *,
    household_id: int | None,
    rule_version: int,
    online_error: str | None,
    degraded: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
) -> Decision:
    zh, en = SCANNER_REASONS[code]
    return Decision(
        crossing_id=request.crossing_id,
        direction=request.direction,
        scanned_at=scanned_at,
        allowed=False,
        display="refuse",
        code=code,
        codes=(code,),
        notes=(),
        reason_zh=zh,
        reason_en=en,
        next_exit_at=None,
        rule_version=rule_version,
        household_id=household_id,
        household_label=household_label(household_id),
        offline=True,
        degraded=degraded,
        timezone=timezone,
        online_error=online_error,
        temperature=request.temperature,
    )
