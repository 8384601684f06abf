"""Deciding and recording crossings: the server's half of the scan API.

One crossing is decided and recorded in one transaction (the caller's): the pass is
verified first without touching the database, then the household row is locked
(``SELECT ... FOR UPDATE``; SQLite transactions begin IMMEDIATE), the core decides,
the household state advances, and the crossing is appended to its gate's hash chain
(the gate row is locked too: households before gates, always, so two scans cannot
deadlock). Idempotent on the client's UUID: a replay returns the stored crossing.

Offline crossings arrive later with the verdict the scanner gave. They are stored as
they happened (the household state advances by what physically happened), re-decided
by the server at their scan time against the household's state as recorded so far, and
flagged as a conflict (``conflict_code``: the server's refusal code) where the scanner
allowed what the server would have refused. Nothing is rolled back. A household's
crossings are judged in the order they arrive, so of two conflicting offline crossings the
one uploaded second is flagged: the later one, when each household's crossings arrive in
scan-time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import CommunityContext
from gate.crossings.chain import seal
from gate.crossings.models import Crossing
from gate.devices.models import Gate
from gate.households.decision_state import household_state, store_state
from gate.households.models import Household, Member
from gate.households.validation import mask_name
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.screen_codes import check_presented
from passes import (
    Direction,
    Override,
    Verdict,
    VerifiedPass,
    advance,
    decide,
)

SMALLINT_RANGE = range(-32768, 32768)


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


@dataclass(frozen=True)
class OfflineClaim:
    """The verdict a scanner reached offline, as it reports it."""

    allowed: bool
    code: str | None
    codes: tuple[str, ...]
    notes: tuple[str, ...]
    rule_version: int


@dataclass(frozen=True)
class Recorded:
    """A stored crossing; ``replay`` when it was already stored by an earlier call.

    ``household_label`` is filled for online scans only (the volunteer sees it); an offline
    upload's answer does not carry it, so it is not looked up.
    """

    crossing: Crossing
    replay: bool
    household_label: str | None


@dataclass(frozen=True)
class Origin:
    """Who reports the crossing: a device at a gate, or a user on the browser gate view."""

    gate_id: int
    device_id: int | None = None
    user_id: int | None = None


def record_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    now: datetime,
    offline: OfflineClaim | None = None,
) -> Recorded:
    """Decide and record one crossing (flushes; the caller commits).

    Online (``offline is None``): decided at the server's ``now``; the stored verdict
    is the server's. Offline: decided at ``request.scanned_at``; the stored verdict is
    the scanner's, with ``conflict`` set where the server would have refused.
    """
    decided_at = now if offline is None else request.scanned_at
    check = check_presented(session, context=context, text=request.pass_text, now=decided_at)
    existing = session.scalar(select(Crossing).where(Crossing.client_id == request.client_id))
    if existing is not None:
        label = household_label(session, existing) if offline is None else None
        return Recorded(existing, replay=True, household_label=label)
    household = None
    revoked: frozenset[bytes] = frozenset()
    if isinstance(check, VerifiedPass):
        household = session.scalar(
            select(Household)
            .where(
                Household.id == check.fields.household_id,
                Household.community_id == context.community_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if _is_revoked(session, check.fields.pass_id):
            revoked = frozenset({check.fields.pass_id})
    state = household_state(household) if household is not None else None
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
    crossing = _crossing_row(context, origin, request, verdict, now)
    if offline is not None:
        _apply_offline_claim(crossing, offline, verdict)
    if household is not None and state is not None:
        after = advance(state, request.direction, crossing.allowed, decided_at, context.rules)
        store_state(household, after)
    _append_to_chain(session, crossing)
    label = household_label(session, crossing) if offline is None else None
    return Recorded(crossing, replay=False, household_label=label)


def record_rejected_upload(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    client_id: str,
    raw: str,
    reason: str,
    now: datetime,
) -> Crossing:
    """Keep an uploaded item the server cannot read as a crossing: stored, flagged, chained."""
    crossing = Crossing(
        client_id=client_id,
        community_id=context.community_id,
        gate_id=origin.gate_id,
        device_id=origin.device_id,
        user_id=origin.user_id,
        direction=Direction.IN,
        scanned_at=now,
        recorded_at=now,
        allowed=False,
        code="rejected_upload",
        codes="rejected_upload",
        flags="offline",
        rule_version=context.rules.version,
        offline=True,
        # Set, not left to the column default: the row is hashed before it is flushed.
        conflict=False,
        rejected=True,
        rejection_reason=f"{reason}: {raw[:500]}",
    )
    _append_to_chain(session, crossing)
    return crossing


def household_label(session: Session, crossing: Crossing) -> str | None:
    """What the volunteer sees: the household code and the head's masked name."""
    if crossing.household_id is None:
        return None
    household = session.get(Household, crossing.household_id)
    if household is None:
        return None
    head = session.scalar(
        select(Member.name)
        .where(Member.household_id == household.id)
        .order_by(Member.is_head.desc(), Member.id)
        .limit(1)
    )
    return f"{household.code} {mask_name(head)}" if head else household.code


def _is_revoked(session: Session, pass_id: bytes) -> bool:
    status = session.scalar(select(IssuedPass.status).where(IssuedPass.pass_id == pass_id))
    return status is PassStatus.REVOKED


def _crossing_row(
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    verdict: Verdict,
    now: datetime,
) -> Crossing:
    temperature = verdict.temperature_tenths
    override = verdict.override
    return Crossing(
        client_id=request.client_id,
        community_id=context.community_id,
        gate_id=origin.gate_id,
        device_id=origin.device_id,
        user_id=origin.user_id,
        household_id=verdict.household_id,
        pass_id=verdict.pass_id,
        direction=request.direction,
        scanned_at=request.scanned_at,
        recorded_at=now,
        temperature_tenths=temperature if temperature in SMALLINT_RANGE else None,
        allowed=verdict.allowed,
        code=verdict.code.value if verdict.code else None,
        codes=" ".join(code.value for code in verdict.codes),
        flags=" ".join(note.value for note in verdict.notes),
        next_exit_at=verdict.next_exit_at,
        rule_version=verdict.rule_version,
        operator=request.operator,
        override_reason=override.reason if override else None,
        override_supervisor=override.supervisor if override else None,
        offline=False,
        conflict=False,
        rejected=False,
        latency_ms=request.latency_ms,
    )


def _apply_offline_claim(crossing: Crossing, claim: OfflineClaim, server: Verdict) -> None:
    crossing.offline = True
    crossing.allowed = claim.allowed
    crossing.code = claim.code
    crossing.codes = " ".join(claim.codes)
    crossing.flags = " ".join(claim.notes)
    crossing.rule_version = claim.rule_version
    if claim.allowed and not server.allowed:
        crossing.conflict = True
        # The code the server would have refused with ("quota", "already_out", ...): a
        # prefix would not fit the column for the longer codes ("unknown_household").
        crossing.conflict_code = server.code.value if server.code else None


def _append_to_chain(session: Session, crossing: Crossing) -> None:
    # populate_existing: the request already loaded this gate (device.gate) before taking the
    # lock; without it the identity map keeps that stale chain head and two concurrent scans
    # at one gate would both append at the same gate_seq.
    gate = session.scalar(
        select(Gate)
        .where(Gate.id == crossing.gate_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if gate is None:
        raise LookupError(f"no gate {crossing.gate_id}")
    seal(crossing, gate.chain_seq, gate.chain_hash)
    gate.chain_seq, gate.chain_hash = crossing.gate_seq, crossing.row_hash
    session.add(crossing)
    session.flush()
