"""One verdict per scan: ask the server, and decide alone from the bundle if it does not answer.

Contract of :meth:`Decider.decide`:

- Online first: ``POST /scans`` with the crossing's client UUID. The whole call is bounded by
  ``deadline_s - offline_reserve_s`` (default 1.5 s - 0.25 s); on timeout, network error, 5xx
  or 4xx the scanner decides offline with :func:`passes.decide` and the cached bundle, marks
  the crossing offline, and skips the server for ``retry_online_after_s`` so the next person
  does not wait for a dead network again.
- Offline household label: the household's code from the bundle (``3-2-401``, what its card
  prints), or ``住户 #<household_id>`` from a bundle without codes (no personal data).
- Rotating screen codes (``CS1:``) are checked offline against the bundle's passes and
  decided exactly like the card they stand for; a stale one is ``screen_code_stale``.
- Supervisor cards (:meth:`Decider.override`, :meth:`Decider.unlock`): at a refusal the card
  lets the crossing through, recorded as an override (a new crossing, carrying the card for
  the server to verify): online the server checks the card, offline the scanner checks it
  against the bundle (signature, not expired, issued, not revoked); a bad card is a refusal
  with its own code. The same card unlocks the clock-fault and stale-bundle refusals until
  the next successful bundle refresh or :data:`UNLOCK_FOR` at most.
- No bundle at all: refused with the scanner code ``no_bundle``.
- Clock integrity (:mod:`scanner.clock`): with a guard, the clock is checked first; a clock
  fault refuses with the scanner code ``clock_fault`` (设备时钟异常，请联系值班负责人) without
  asking the server or the bundle. Without a guard, an offline decision at a time before the
  bundle's server time (beyond the tolerance) is a clock fault too: a bundle age below zero.
- Every decision carries ``clock_offset_ms``, the device's clock minus the server's (sent on
  the online scan and on the offline upload).
- Degraded mode: when the bundle is older than ``max_bundle_age`` (default 24 h), an offline
  decision that would allow is turned into a refusal ``stale_bundle``, unless a supervisor
  override is given or the device was unlocked with a card (then it is allowed, noted
  ``stale_bundle`` and ``override``). Refusals stay
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
from typing import Any, Protocol, runtime_checkable

from passes import (
    OVERRIDE_REFUSAL_CODES,
    CardRejected,
    Code,
    Direction,
    HouseholdState,
    Override,
    Verdict,
    VerifiedVisitorPass,
    advance,
    decide,
    decide_visitor,
    is_supervisor_card,
    is_visitor_pass,
    reason,
    verify_visitor_pass,
    wire,
)
from passes.rules import DEFAULT_TIMEZONE
from passes.vehicle_pass import is_vehicle_pass
from scanner.api_client import ApiError
from scanner.bundle import Bundle, LocalStates
from scanner.clock import CLOCK_FAULT, CLOCK_FAULT_REASONS, DEFAULT_TOLERANCE, ClockGuard
from scanner.offline_checks import (
    card_check,
    card_name,
    household_id_of,
    household_label,
    presented_check,
)
from scanner.vehicles import vehicle_verdict

STALE_BUNDLE = str(Code.STALE_BUNDLE)
"""Offline data older than the limit; only a supervisor may let through (``Code.STALE_BUNDLE``)."""
NO_BUNDLE = "no_bundle"
"""Scanner-side code: offline and no bundle was ever fetched."""

UNLOCK_FOR = timedelta(hours=12)
"""Longest a supervisor card's unlock lasts (a successful bundle refresh ends it sooner)."""

SCANNER_REASONS: dict[str, tuple[str, str]] = {
    STALE_BUNDLE: (reason(Code.STALE_BUNDLE, "zh"), reason(Code.STALE_BUNDLE, "en")),
    NO_BUNDLE: ("设备无离线数据，无法判断", "No offline data on this device"),
    CLOCK_FAULT: CLOCK_FAULT_REASONS,
    **{str(code): (reason(code, "zh"), reason(code, "en")) for code in OVERRIDE_REFUSAL_CODES},
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
    people: int = 1
    """How many persons cross on the pass (the volunteer's + / - keys; counts when the rules
    count people)."""


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
    override: Override | None = None
    """The override this crossing was made with (supervisor, reason and card): journal and
    upload it with the crossing (:meth:`Decider.override` sets it)."""

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
        self._unlocked_until = float("-inf")
        self._unlocked_bundle: datetime | None = None
        self.online = client is not None
        """Whether the last decision came from the server."""

    def decide(self, request: ScanRequest) -> Decision:
        """Decide ``request``; never raises for server trouble (see module docstring)."""
        scanned_at = self._now()
        offset_ms = self._offset_ms()
        bundle = self._bundles()
        unlocked = self.unlocked(bundle)
        clock_fault = self._guard is not None and not self._guard.check(scanned_at).ok
        if clock_fault and not unlocked:
            self.online = False
            fault = _scanner_refusal(
                request,
                scanned_at,
                CLOCK_FAULT,
                household_id=household_id_of(request.pass_text, bundle),
                rule_version=0 if bundle is None else bundle.rules.version,
                online_error=None,
                timezone=DEFAULT_TIMEZONE if bundle is None else bundle.timezone,
            )
            return replace(fault, clock_offset_ms=offset_ms, override=request.override)
        error: str | None = None
        if self._client is not None and self._monotonic() >= self._skip_online_until:
            answer = self._ask_server(request, scanned_at, offset_ms)
            if isinstance(answer, wire.ScanAnswer):
                self.online = True
                decided = from_server(request, answer, scanned_at, bundle, self._local)
                return replace(decided, clock_offset_ms=offset_ms, override=request.override)
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
            unlocked=unlocked,
            clock_fault=clock_fault,
        )
        return replace(decided, clock_offset_ms=offset_ms, override=request.override)

    # --- supervisor cards ------------------------------------------------------------------

    def is_supervisor_card(self, text: str) -> bool:
        """Whether a scanned ``text`` claims to be a supervisor card (``SV1:``)."""
        return is_supervisor_card(text)

    def override(
        self, request: ScanRequest, refused: Decision, card_text: str, reason: str
    ) -> Decision:
        """Let the refused crossing ``refused`` (of ``request``) through on a supervisor card.

        A new crossing (its own client id) is decided with the override: online the server
        checks the card, offline it is checked against the bundle at the scan time. The
        result is allowed and noted ``override`` when the card counts and the refusal may be
        overridden (not a bad pass, not a missing or implausible temperature); a bad card is
        a refusal with its own code (``supervisor_card_invalid``/``_expired``/``_revoked``).
        Either way :attr:`Decision.override` holds the override (with the card) to journal
        and upload. ``reason`` is the one the volunteer picked or typed (1-500 characters).
        """
        text = reason.strip()
        if not text or len(text) > 500:
            raise ValueError("an override needs a reason of 1 to 500 characters")
        override = Override(supervisor=card_name(card_text), reason=text, card=card_text)
        attempt = replace(
            request,
            direction=refused.direction,
            override=override,
            crossing_id=str(uuid.uuid4()),
        )
        return self.decide(attempt)

    def unlock(self, card_text: str) -> Decision | None:
        """Unlock the clock-fault and stale-bundle refusals with a supervisor card: None when
        the card counts (checked against the bundle: signature, not expired, issued, not
        revoked); the device then decides as usual until the next successful bundle refresh
        or :data:`UNLOCK_FOR`. A refusal Decision (the card's code) otherwise."""
        bundle = self._bundles()
        now = self._now()
        if bundle is None:
            request = ScanRequest(card_text, Direction.OUT, None)
            return _scanner_refusal(
                request, now, NO_BUNDLE, household_id=None, rule_version=0, online_error=None
            )
        # A faulty clock cannot date the card: the bundle's server time stands in for it.
        faulty = self._guard is not None and not self._guard.check(now).ok
        at = max(bundle.generated_at, now) if not faulty else bundle.generated_at
        check = card_check(card_text, bundle, at)
        if isinstance(check, CardRejected):
            request = ScanRequest(card_text, Direction.OUT, None)
            return _scanner_refusal(
                request,
                now,
                str(check.code),
                household_id=None,
                rule_version=bundle.rules.version,
                online_error=None,
                timezone=bundle.timezone,
            )
        self._unlocked_until = self._monotonic() + UNLOCK_FOR.total_seconds()
        self._unlocked_bundle = bundle.fetched_at
        return None

    def unlocked(self, bundle: Bundle | None = None) -> bool:
        """Whether a supervisor card unlocked the device and the unlock still holds (no
        bundle refreshed since, :data:`UNLOCK_FOR` not passed)."""
        if self._monotonic() >= self._unlocked_until:
            return False
        current = bundle if bundle is not None else self._bundles()
        return current is not None and current.fetched_at == self._unlocked_bundle

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
        people=request.people,
    )


def from_server(
    request: ScanRequest,
    answer: wire.ScanAnswer,
    scanned_at: datetime,
    bundle: Bundle | None,
    local: LocalStates | None,
) -> Decision:
    """A server verdict as a Decision; advances the local household state if it allowed."""
    verdict = answer.verdict
    household_id = household_id_of(request.pass_text, bundle)
    state_after = None
    if verdict.allowed and bundle is not None and household_id is not None:
        state = bundle.household(household_id, local)
        if state is not None:
            state_after = advance(
                state, request.direction, True, scanned_at, bundle.rules, request.people
            )
    code, codes = verdict.code, verdict.codes
    refused_override = [note for note in verdict.notes if note in OVERRIDE_REFUSAL_CODES]
    if refused_override and not verdict.allowed:  # the override's own code is what is shown
        code, codes = refused_override[0], (refused_override[0], *verdict.codes)
    return Decision(
        crossing_id=request.crossing_id,
        direction=request.direction,
        scanned_at=scanned_at,
        allowed=verdict.allowed,
        display=verdict.display,
        code=code,
        codes=codes,
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
    unlocked: bool = False,
    clock_fault: bool = False,
) -> Decision:
    """Decide with the core and the bundle, then apply the degraded-mode rule.

    ``unlocked``: a supervisor card unlocked the device (a stale bundle allows, noted);
    ``clock_fault``: the clock failed its check (only reached when unlocked)."""
    if bundle is None:
        return _scanner_refusal(
            request,
            scanned_at,
            NO_BUNDLE,
            household_id=None,
            rule_version=0,
            online_error=online_error,
        )
    household_id = household_id_of(request.pass_text, bundle)
    faulty = clock_fault or scanned_at < bundle.generated_at - DEFAULT_TOLERANCE
    if faulty and not unlocked:  # a bundle age below zero
        return _scanner_refusal(
            request,
            scanned_at,
            CLOCK_FAULT,
            household_id=household_id,
            rule_version=bundle.rules.version,
            online_error=online_error,
            timezone=bundle.timezone,
            bundle=bundle,
        )
    override = request.override
    if override is not None and override.card is not None:
        card = card_check(override.card, bundle, scanned_at)
        if isinstance(card, CardRejected):  # the attempt is recorded, refused with its code
            return _scanner_refusal(
                request,
                scanned_at,
                str(card.code),
                household_id=household_id,
                rule_version=bundle.rules.version,
                online_error=online_error,
                timezone=bundle.timezone,
                bundle=bundle,
            )
    household = None if household_id is None else bundle.household(household_id, local)
    if is_visitor_pass(request.pass_text):  # an outsider's pass: no household, no state
        verdict = _visitor_verdict(request, bundle, local, scanned_at)
    elif is_vehicle_pass(request.pass_text):  # a car: its household read, not moved
        verdict = vehicle_verdict(
            request.pass_text, bundle, local, direction=request.direction, scanned_at=scanned_at
        )
    else:
        verdict = decide(
            presented_check(request.pass_text, bundle, scanned_at),
            keys=bundle.keys,
            community_id=bundle.community_id,
            household=household,
            revoked_pass_ids=bundle.revoked_pass_ids,
            rules=bundle.rules,
            direction=request.direction,
            temperature=request.temperature,
            now=scanned_at,
            override=request.override,
            people=request.people,
        )
    degraded = bundle.age(scanned_at) > max_bundle_age
    if degraded and verdict.allowed and request.override is None and not unlocked:
        return _scanner_refusal(
            request,
            scanned_at,
            STALE_BUNDLE,
            household_id=verdict.household_id,
            rule_version=verdict.rule_version,
            online_error=online_error,
            degraded=True,
            timezone=bundle.timezone,
            bundle=bundle,
        )
    decided = _from_verdict(request, verdict, scanned_at, degraded, online_error, bundle)
    if faulty and decided.allowed:  # let through on a card's unlock, the clock in doubt
        notes = decided.notes if "override" in decided.notes else (*decided.notes, "override")
        decided = replace(decided, notes=(*notes, CLOCK_FAULT))
    return decided


@runtime_checkable
class LocalVisitorUses(Protocol):
    """The journal's answer to: did this device already let someone in with this pass?"""

    def entered_with(self, pass_text: str) -> bool: ...


def _visitor_verdict(
    request: ScanRequest, bundle: Bundle, local: LocalStates | None, scanned_at: datetime
) -> Verdict:
    """A visitor pass decided offline: the bundle's used and revoked ids, plus an entry this
    device made with the same pass (its journal; perhaps not yet uploaded)."""
    check = verify_visitor_pass(request.pass_text, bundle.keys, community_id=bundle.community_id)
    used = bundle.used_visitor_pass_ids
    if (
        isinstance(check, VerifiedVisitorPass)
        and check.fields.single_use
        and isinstance(local, LocalVisitorUses)
        and local.entered_with(request.pass_text)
    ):
        used = used | {check.fields.pass_id}
    return decide_visitor(
        check,
        keys=bundle.keys,
        community_id=bundle.community_id,
        used_pass_ids=used,
        revoked_pass_ids=bundle.revoked_pass_ids,
        rules=bundle.rules,
        direction=request.direction,
        temperature=request.temperature,
        now=scanned_at,
    )


def _from_verdict(
    request: ScanRequest,
    verdict: Verdict,
    scanned_at: datetime,
    degraded: bool,
    online_error: str | None,
    bundle: Bundle | None = None,
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
        household_label=household_label(verdict.household_id, bundle),
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
    bundle: Bundle | None = None,
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
        household_label=household_label(household_id, bundle),
        offline=True,
        degraded=degraded,
        timezone=timezone,
        online_error=online_error,
        temperature=request.temperature,
    )
