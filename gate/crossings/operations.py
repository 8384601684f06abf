"""Deciding and recording crossings: the server's half of the scan API.

One crossing is decided and recorded in one transaction (the caller's): the pass is
verified first without touching the database, then the household row and the gate row
are locked in one statement (``SELECT ... FOR UPDATE OF households, gates``: households
before gates, always, so two scans cannot deadlock; SQLite transactions begin IMMEDIATE),
the core decides, the household state advances, and the crossing is appended to its gate's
hash chain. Idempotent on the client's UUID: a replay returns the stored crossing.

Offline crossings arrive later with the verdict the scanner gave. They are stored as
they happened (the household state advances by what physically happened), re-decided
by the server at their scan time against the household's state as recorded so far, and
flagged as a conflict (``conflict_code``: the server's refusal code) where the scanner
allowed what the server would have refused. Nothing is rolled back. A household's
crossings are judged in the order they arrive, so of two conflicting offline crossings the
one uploaded second is flagged: the later one, when each household's crossings arrive in
scan-time order.

The scan path is every gate's hot path, so it runs as SQLAlchemy Core statements compiled
once (:mod:`gate.crossings.persistence`), on the session's connection: one statement locks
the household and the gate and brings along everything else the decision needs (the head's
name for the label, the pass's revocation, a crossing already stored under the client's UUID,
the chain head), then one insert and at most two updates. The answer is a
:class:`ScanResult` of plain values, not an ORM object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gate.community.context import CommunityContext
from gate.crossings.chain import ChainHead
from gate.crossings.persistence import (
    StateWrite,
    crossing_id_of,
    insert_crossing,
    known_household,
    lock_household_and_gate,
    stored_crossing,
)
from gate.crossings.timeline import settle as settle_timeline
from gate.households.decision_state import household_state, state_columns
from gate.households.validation import mask_name
from gate.issuing.models import PassStatus
from gate.issuing.screen_codes import check_presented
from passes import (
    Direction,
    Override,
    PassCheck,
    PassRejected,
    Verdict,
    VerifiedPass,
    advance,
    decide,
)

SMALLINT_RANGE = range(-32768, 32768)
INT_RANGE = range(-(2**31), 2**31)
CLOCK_BACKWARDS = "clock_backwards"
"""The flag of an offline crossing dated behind its device's clock high-water mark."""


@dataclass(frozen=True)
class ScanRequest:
    """One crossing as a scanner (or the browser gate view) reports it."""

    client_id: str
    pass_text: str
    direction: Direction
    temperature: object
    """Integer tenths of a degree, None, or whatever the client sent (a sensor error)."""
    scanned_at: datetime
    operator: str | None = None
    override: Override | None = None
    latency_ms: int | None = None
    clock_offset_ms: int | None = None
    """The device's clock minus the server's (its estimate, ms), when it reports one."""


@dataclass(frozen=True)
class OfflineClaim:
    """The verdict a scanner reached offline, as it reports it."""

    allowed: bool
    code: str | None
    codes: tuple[str, ...]
    notes: tuple[str, ...]
    rule_version: int


@dataclass(frozen=True)
class Origin:
    """Who reports the crossing: a device at a gate, or a user on the browser gate view."""

    gate_id: int
    device_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class ScanResult:
    """A stored crossing, as the callers of :func:`record_scan` need it (plain values).

    ``replay``: it was stored by an earlier call with the same client UUID. ``codes`` and
    ``flags`` are space-separated, as stored. ``household_label`` is filled for online scans
    only (the volunteer sees it); an offline upload's answer does not carry it, so it is not
    looked up.
    """

    crossing_id: int
    client_id: str
    replay: bool
    household_label: str | None
    allowed: bool
    code: str | None
    codes: str
    flags: str
    next_exit_at: datetime | None
    rule_version: int
    direction: Direction
    scanned_at: datetime
    household_id: int | None
    gate_id: int
    gate_seq: int
    offline: bool
    conflict: bool
    conflict_code: str | None
    rejected: bool

    @property
    def id(self) -> int:
        """The crossing's id, under the name the answer builders read
        (:func:`gate.api.schemas.scan_response`)."""
        return self.crossing_id


def record_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    now: datetime,
    offline: OfflineClaim | None = None,
    clock_backwards: bool = False,
) -> ScanResult:
    """Decide and record one crossing (writes in the caller's transaction; the caller
    commits).

    Online (``offline is None``): decided at the server's ``now``; the stored verdict
    is the server's. Offline: decided at ``request.scanned_at``; the stored verdict is
    the scanner's, with ``conflict`` set where the server would have refused. A client UUID
    already stored MUST NOT be stored twice: its stored crossing is returned as a replay.
    ``clock_backwards``: the offline crossing is dated behind its device's clock high-water
    mark (a clock set back): flagged ``clock_backwards`` for the office.
    """
    decided_at = now if offline is None else request.scanned_at
    check = check_presented(session, context=context, text=request.pass_text, now=decided_at)
    locked = None
    if isinstance(check, VerifiedPass):
        locked = lock_household_and_gate(
            session,
            household_id=check.fields.household_id,
            community_id=context.community_id,
            pass_id=check.fields.pass_id,
            client_id=request.client_id,
            gate_id=origin.gate_id,
        )
    replay_of = (
        locked.replay_of if locked is not None else crossing_id_of(session, request.client_id)
    )
    if replay_of is not None:
        replayed = find_stored(session, request.client_id, labelled=offline is None)
        if replayed is None:  # pragma: no cover - found by the same transaction just above
            raise LookupError(f"crossing {replay_of} vanished")
        return replayed
    state = household_state(locked) if locked is not None else None
    revoked = _revoked(check, None if locked is None else locked.pass_status)
    verdict = decide(
        check,
        keys=context.keys,
        community_id=context.community_id,
        household=state,
        revoked_pass_ids=revoked,
        rules=context.rules,
        direction=request.direction,
        temperature=request.temperature,
        now=decided_at,
        override=request.override,
    )
    values = _crossing_values(context, origin, request, verdict, now)
    # Attributed only to a registered household of this community: a validly signed pass
    # naming a household the server does not know (minted, or a restore from an older
    # backup) is refused ``unknown_household`` and stored without one, never a 500.
    values["household_id"] = (
        locked.id if locked is not None else _registered(session, check, context.community_id)
    )
    if offline is not None:
        values.update(_offline_values(offline, verdict, request.clock_offset_ms))
        if clock_backwards:
            values["flags"] = " ".join([*str(values["flags"]).split(), CLOCK_BACKWARDS])
    if locked is None or state is None:  # no household: nothing locked yet, nothing to label
        return _result(insert_crossing(session, values, None, None), replay=False, label=None)
    after = advance(state, request.direction, bool(values["allowed"]), decided_at, context.rules)
    new_state = StateWrite(locked.id, state_columns(after), now) if after != state else None
    head = ChainHead(origin.gate_id, locked.chain_seq, locked.chain_hash)
    stored = insert_crossing(session, values, head, new_state)
    settle_timeline(session, context.rules, stored)  # late or offline: replay in scan order
    label = _label(locked.code, locked.head_name) if offline is None else None
    return _result(stored, replay=False, label=label)


def record_rejected_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    claim: OfflineClaim,
    code: str,
    reason: str,
    now: datetime,
) -> ScanResult:
    """Keep an uploaded crossing the server will not accept (dated in the future, or before
    its device existed): stored as reported (household, pass, direction, its ``scanned_at``),
    ``rejected`` with ``code`` and ``reason``, refused, and changing no household state.

    A client UUID already stored is returned as a replay, as in :func:`record_scan`.
    """
    if crossing_id_of(session, request.client_id) is not None:
        replayed = find_stored(session, request.client_id)
        if replayed is not None:
            return replayed
    check = check_presented(session, context=context, text=request.pass_text, now=now)
    fields = check.fields if isinstance(check, (VerifiedPass, PassRejected)) else None
    scanner = "scanner_allowed" if claim.allowed else "scanner_refused"
    values: dict[str, object] = {
        "client_id": request.client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "household_id": None
        if fields is None
        else known_household(session, fields.household_id, context.community_id),
        "pass_id": None if fields is None else fields.pass_id,
        "direction": request.direction,
        "scanned_at": request.scanned_at,
        "recorded_at": now,
        "temperature_tenths": request.temperature
        if type(request.temperature) is int and request.temperature in SMALLINT_RANGE
        else None,
        "allowed": False,
        "code": code,
        "codes": " ".join([code, *claim.codes]),
        "flags": f"offline {scanner}",
        "rule_version": claim.rule_version,
        "operator": request.operator,
        "offline": True,
        "conflict": False,
        "rejected": True,
        "rejection_reason": reason,
        "latency_ms": request.latency_ms,
        "clock_offset_ms": _offset(request.clock_offset_ms),
    }
    return _result(insert_crossing(session, values, None, None), replay=False, label=None)


def record_rejected_upload(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    client_id: str,
    raw: str,
    reason: str,
    now: datetime,
) -> ScanResult:
    """Keep an uploaded item the server cannot read as a crossing: stored, flagged, chained.

    ``reason``: why it could not be read (stored with the first 500 characters of ``raw``).
    """
    values: dict[str, object] = {
        "client_id": client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "direction": Direction.IN,
        "scanned_at": now,
        "recorded_at": now,
        "allowed": False,
        "code": "rejected_upload",
        "codes": "rejected_upload",
        "flags": "offline",
        "rule_version": context.rules.version,
        "offline": True,
        "conflict": False,
        "rejected": True,
        "rejection_reason": f"{reason}: {raw[:500]}",
    }
    return _result(insert_crossing(session, values, None, None), replay=False, label=None)


def find_stored(session: Session, client_id: str, *, labelled: bool = False) -> ScanResult | None:
    """The crossing stored under the client's UUID, as a replay (None: none is).
    ``labelled``: look up its household label too."""
    row = stored_crossing(session, client_id)
    if row is None:
        return None
    label = None
    if labelled and row["household_code"] is not None:
        label = _label(row["household_code"], row["head_name"])
    return _result(row, replay=True, label=label)


def _label(code: str, head_name: str | None) -> str:
    """What the volunteer sees: the household code and the head's masked name."""
    return f"{code} {mask_name(head_name)}" if head_name else code


def _result(row: Mapping[Any, Any], *, replay: bool, label: str | None) -> ScanResult:
    return ScanResult(
        crossing_id=row["id"],
        client_id=row["client_id"],
        replay=replay,
        household_label=label,
        allowed=row["allowed"],
        code=row["code"],
        codes=row["codes"],
        flags=row["flags"],
        next_exit_at=row["next_exit_at"],
        rule_version=row["rule_version"],
        direction=row["direction"],
        scanned_at=row["scanned_at"],
        household_id=row["household_id"],
        gate_id=row["gate_id"],
        gate_seq=row["gate_seq"],
        offline=row["offline"],
        conflict=row["conflict"],
        conflict_code=row["conflict_code"],
        rejected=row["rejected"],
    )


def _registered(session: Session, check: PassCheck, community_id: int) -> int | None:
    """The household a refused pass names (signed but expired, ...), if it is registered in
    ``community_id``; None for forgeries (nothing about them is trusted or looked up)."""
    if isinstance(check, PassRejected) and check.fields is not None:
        return known_household(session, check.fields.household_id, community_id)
    return None


def _offset(offset_ms: int | None) -> int | None:
    """A reported clock offset as stored (the column's 32-bit range: +-24 days, clamped)."""
    if offset_ms is None:
        return None
    return max(INT_RANGE.start, min(INT_RANGE.stop - 1, offset_ms))


def _revoked(check: PassCheck, pass_status: PassStatus | None) -> frozenset[bytes]:
    """The revoked pass ids ``decide`` needs: ``check``'s own if its stored status (None:
    not found) is revoked."""
    if isinstance(check, VerifiedPass) and pass_status == PassStatus.REVOKED:
        return frozenset({check.fields.pass_id})
    return frozenset()


def _crossing_values(
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    verdict: Verdict,
    now: datetime,
) -> dict[str, object]:
    temperature = verdict.temperature_tenths
    override = verdict.override
    return {
        "client_id": request.client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "household_id": verdict.household_id,
        "pass_id": verdict.pass_id,
        "direction": request.direction,
        "scanned_at": request.scanned_at,
        "recorded_at": now,
        "temperature_tenths": temperature if temperature in SMALLINT_RANGE else None,
        "allowed": verdict.allowed,
        "code": verdict.code.value if verdict.code else None,
        "codes": " ".join(code.value for code in verdict.codes),
        "flags": " ".join(note.value for note in verdict.notes),
        "next_exit_at": verdict.next_exit_at,
        "rule_version": verdict.rule_version,
        "operator": request.operator,
        "override_reason": override.reason if override else None,
        "override_supervisor": override.supervisor if override else None,
        "offline": False,
        "conflict": False,
        "rejected": False,
        "latency_ms": request.latency_ms,
    }


def _offline_values(
    claim: OfflineClaim, server: Verdict, request_offset: int | None
) -> dict[str, object]:
    """The scanner's verdict over the server's; a conflict where the scanner allowed what
    the server refuses."""
    values: dict[str, object] = {
        "offline": True,
        "clock_offset_ms": _offset(request_offset),
        "allowed": claim.allowed,
        "code": claim.code,
        "codes": " ".join(claim.codes),
        "flags": " ".join(claim.notes),
        "rule_version": claim.rule_version,
    }
    if claim.allowed and not server.allowed:
        values["conflict"] = True
        # The code the server would have refused with ("quota", "already_out", ...): a
        # prefix would not fit the column for the longer codes ("unknown_household").
        values["conflict_code"] = server.code.value if server.code else None
    return values
