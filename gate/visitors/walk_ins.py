"""Walk-ins (无证人员): a person without a pass registered at the gate and turned back, or a
delivery handed over there.

One registration writes a :class:`WalkIn` row and its crossing (``subject`` ``walk_in`` or
``delivery``, refused ``no_pass`` or ``handed_over``) in the caller's transaction.
Idempotent on the client's UUID like every crossing: a replay of the same registration
returns it; the same id with another body is refused ``id_reuse``.

A registration the phone gate made offline carries ``registered_at`` (the phone's time): it
is stored at that time and its crossing marked offline, once the phone is back online; a time
in the future (beyond :data:`CLOCK_TOLERANCE`) or older than :data:`OFFLINE_HORIZON` is
refused ``bad_registered_at`` (a phone whose clock is wrong).

Audited: ``walk_in.register`` (kind, outcome, masked phone; never the whole number).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.context import CommunityContext
from gate.crossings.operations import Origin, ScanResult, find_bound
from gate.crossings.persistence import crossing_id_of, insert_crossing
from gate.households.fields import mask_phone
from gate.visitors.crossing_rows import (
    SUBJECT_DELIVERY,
    SUBJECT_WALK_IN,
    outsider_values,
    scan_result,
)
from gate.visitors.fields import (
    VisitorError,
    checked_kind,
    checked_phone,
    checked_plate,
    checked_purpose,
)
from gate.visitors.models import Outcome, WalkIn
from passes import Direction, VisitorKind, decide_walk_in, format_utc

CLOCK_TOLERANCE = timedelta(minutes=5)
"""How far after the server's time an offline registration may be dated."""
OFFLINE_HORIZON = timedelta(days=7)
"""How long a phone may keep a registration made offline before it is refused."""


@dataclass(frozen=True)
class WalkInReport:
    """A registration as the gate sends it (checked by :func:`register_walk_in`)."""

    client_id: str
    kind: object
    outcome: object = Outcome.TURNED_BACK.value
    plate: object = None
    phone: object = None
    purpose: object = None
    direction: Direction = Direction.IN
    temperature: object = None
    operator: str | None = None
    registered_at: datetime | None = None
    """Made offline: when the phone registered it (UTC); None: now, online."""


@dataclass(frozen=True)
class RegisteredWalkIn:
    """A stored registration and its crossing (``crossing.replay``: stored earlier)."""

    walk_in: WalkIn
    crossing: ScanResult


def register_walk_in(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    report: WalkInReport,
    now: datetime,
) -> RegisteredWalkIn:
    """Check ``report`` and record the registration and its refused crossing at ``now``.

    Only a ``delivery`` may be ``handed_over``. Raises :class:`VisitorError` (nothing
    written), or :class:`gate.crossings.operations.CrossingError` ``id_reuse``.
    """
    kind = checked_kind(report.kind)
    try:
        outcome = Outcome(str(report.outcome))
    except ValueError:
        raise VisitorError("bad_outcome") from None
    if outcome is Outcome.HANDED_OVER and kind is not VisitorKind.DELIVERY:
        raise VisitorError("bad_outcome")
    plate = checked_plate(report.plate)
    phone = checked_phone(report.phone)
    purpose = checked_purpose(report.purpose, required=False)
    at = _registered_at(report, now)
    request_hash = _request_hash(origin, report, kind, outcome, plate, phone, purpose)
    if crossing_id_of(session, report.client_id) is not None:
        crossing = find_bound(
            session,
            context=context,
            origin=origin,
            client_id=report.client_id,
            request_hash=request_hash,
            now=now,
        )
        walk_in = session.scalar(select(WalkIn).where(WalkIn.client_id == report.client_id))
        if walk_in is None:  # pragma: no cover - bound to a walk-in's hash, so one exists
            raise LookupError(report.client_id)
        return RegisteredWalkIn(walk_in, crossing)
    handed_over = outcome is Outcome.HANDED_OVER
    verdict = decide_walk_in(
        handed_over=handed_over,
        rules=context.rules,
        direction=report.direction,
        temperature=report.temperature,
    )
    walk_in = WalkIn(
        community_id=context.community_id,
        gate_id=origin.gate_id,
        client_id=report.client_id,
        kind=kind.key,
        outcome=outcome,
        plate=plate,
        phone=phone,
        purpose=purpose,
        registered_at=at,
        registered_by=(report.operator or "")[:64],
        user_id=origin.user_id,
    )
    session.add(walk_in)
    session.flush()
    values = outsider_values(
        context=context,
        origin=origin,
        client_id=report.client_id,
        verdict=verdict,
        scanned_at=at,
        now=now,
        operator=report.operator,
        subject=SUBJECT_DELIVERY if handed_over else SUBJECT_WALK_IN,
        subject_id=walk_in.id,
        plate=plate,
        request_hash=request_hash,
    )
    values["offline"] = report.registered_at is not None
    stored = insert_crossing(session, values, None, None)
    walk_in.crossing_id = int(str(stored["id"]))
    record_event(
        session,
        actor=f"user:{origin.user_id}"
        if origin.device_id is None
        else f"device:{origin.device_id}",
        action="walk_in.register",
        community_id=context.community_id,
        user_id=origin.user_id,
        subject_type="walk_in",
        subject_id=walk_in.id,
        details={
            "kind": kind.key,
            "outcome": outcome.value,
            "gate_id": origin.gate_id,
            "plate": plate,
            "phone": mask_phone(phone),
            "crossing_id": walk_in.crossing_id,
        },
    )
    session.flush()
    return RegisteredWalkIn(walk_in, scan_result(stored, replay=False, label=None))


def _request_hash(
    origin: Origin,
    report: WalkInReport,
    kind: VisitorKind,
    outcome: Outcome,
    plate: str | None,
    phone: str | None,
    purpose: str,
) -> str:
    """SHA-256 (hex) of the registration a client id is bound to."""
    canonical = {
        "device": origin.device_id,
        "user": origin.user_id,
        "walk_in": [kind.key, outcome.value, plate, phone, purpose],
        "direction": report.direction.value,
        "temperature": report.temperature,
    }
    if report.registered_at is not None:  # only then: older hashes hold
        canonical["registered_at"] = format_utc(report.registered_at)
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _registered_at(report: WalkInReport, now: datetime) -> datetime:
    """When the registration happened: ``now``, or the phone's time of an offline one."""
    at = report.registered_at
    if at is None:
        return now
    if not now - OFFLINE_HORIZON <= at <= now + CLOCK_TOLERANCE:
        raise VisitorError("bad_registered_at", days=OFFLINE_HORIZON.days)
    return at
