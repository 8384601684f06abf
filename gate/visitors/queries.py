"""Reading outsiders back: a visitor pass's state, the walk-in registrations, counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing
from gate.devices.models import Gate
from gate.households.fields import mask_phone
from gate.visitors.crossing_rows import SUBJECTS
from gate.visitors.models import VisitorPassRecord, WalkIn

PASS_STATES = ("pending", "active", "used", "expired", "revoked")
"""A visitor pass's state, as :func:`pass_state` names it (entry points translate)."""


def pass_state(record: VisitorPassRecord, now: datetime) -> str:
    """``revoked``, ``used`` (single use, consumed), ``expired``, ``pending`` (not yet
    valid) or ``active``, in that order."""
    if record.revoked_at is not None:
        return "revoked"
    if record.single_use and record.used_at is not None:
        return "used"
    if now > record.valid_until:
        return "expired"
    if now < record.valid_from:
        return "pending"
    return "active"


@dataclass(frozen=True)
class WalkInRow:
    """A registration as lists show it: the phone masked, the gate by name."""

    id: int
    registered_at: datetime
    gate_name: str
    kind: str
    outcome: str
    plate: str | None
    phone_masked: str
    purpose: str
    registered_by: str
    crossing_id: int | None


def walk_in_rows(
    session: Session, community_id: int, *, since: datetime | None = None, limit: int = 200
) -> list[WalkInRow]:
    """The community's walk-ins, newest first (from ``since`` when given)."""
    query = (
        select(WalkIn, Gate.name)
        .join(Gate, Gate.id == WalkIn.gate_id)
        .where(WalkIn.community_id == community_id)
        .order_by(WalkIn.registered_at.desc(), WalkIn.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(WalkIn.registered_at >= since)
    return [
        WalkInRow(
            id=row.id,
            registered_at=row.registered_at,
            gate_name=gate_name,
            kind=row.kind,
            outcome=row.outcome.value,
            plate=row.plate,
            phone_masked=mask_phone(row.phone),
            purpose=row.purpose,
            registered_by=row.registered_by,
            crossing_id=row.crossing_id,
        )
        for row, gate_name in session.execute(query)
    ]


def walk_in_counts(session: Session, community_id: int, since: datetime) -> dict[str, int]:
    """Walk-ins since ``since`` by outcome (``turned_back``, ``handed_over``)."""
    rows = session.execute(
        select(WalkIn.outcome, func.count())
        .where(WalkIn.community_id == community_id, WalkIn.registered_at >= since)
        .group_by(WalkIn.outcome)
    )
    counts = {"turned_back": 0, "handed_over": 0}
    for outcome, count in rows:
        counts[str(getattr(outcome, "value", outcome))] = int(count)
    return counts


@dataclass(frozen=True)
class OutsiderCount:
    """Outsiders' crossings of one kind (``subject``) in a period: let in, and not."""

    subject: str
    allowed: int
    refused: int


def outsider_counts(
    session: Session, community_id: int, start: datetime, end: datetime
) -> list[OutsiderCount]:
    """Crossings of visitors, walk-ins and deliveries from ``start`` to ``end`` (exclusive),
    per subject in :data:`gate.visitors.crossing_rows.SUBJECTS` order; subjects without one
    are left out."""
    rows = session.execute(
        select(Crossing.subject, Crossing.allowed, func.count())
        .where(
            Crossing.community_id == community_id,
            Crossing.subject.in_(SUBJECTS),
            Crossing.scanned_at >= start,
            Crossing.scanned_at < end,
        )
        .group_by(Crossing.subject, Crossing.allowed)
    )
    table: dict[str, list[int]] = {}
    for subject, allowed, count in rows:
        table.setdefault(str(subject), [0, 0])[0 if allowed else 1] += int(count)
    return [OutsiderCount(subject, *table[subject]) for subject in SUBJECTS if subject in table]


@dataclass(frozen=True)
class BundleVisitorIds:
    """What an offline gate needs of the community's visitor passes: opaque ids only."""

    revoked: tuple[bytes, ...]
    """Revoked, not yet expired: they join the bundle's revoked pass ids."""
    used: tuple[bytes, ...]
    """Single-use passes consumed, not yet expired: the bundle's ``used_visitor_pass_ids``."""


def bundle_visitor_ids(session: Session, community_id: int, *, now: datetime) -> BundleVisitorIds:
    """The ids of the community's revoked and used visitor passes still within their window
    (an expired pass is refused by its own date), each sorted. Reads only."""
    rows = session.execute(
        select(
            VisitorPassRecord.pass_id,
            VisitorPassRecord.revoked_at,
            VisitorPassRecord.single_use,
            VisitorPassRecord.used_at,
        )
        .where(
            VisitorPassRecord.community_id == community_id,
            VisitorPassRecord.valid_until >= now,
        )
        .order_by(VisitorPassRecord.pass_id)
    ).all()
    return BundleVisitorIds(
        revoked=tuple(row.pass_id for row in rows if row.revoked_at is not None),
        used=tuple(row.pass_id for row in rows if row.single_use and row.used_at is not None),
    )
