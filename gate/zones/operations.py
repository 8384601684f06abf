"""Locking and lifting lockdown zones (flush, never commit; each records its audit event).

A lock puts one level (封控 sealed, 管控 controlled, 防范 precaution) over one building, compound
or grid of the community from ``starts_at`` to ``ends_at`` (None: until lifted). Only sealed
locks change verdicts (:mod:`passes.lockdown`); the gate learns of them with the household's
state, online at each scan and offline with the next bundle.

Lifting ends a lock at the lifting time; lifting one that has not started cancels it (it then
never holds). The end can be moved (extended or brought forward) while the lock is not lifted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Area, Building, Compound, Grid
from gate.errors import N_, CodedError
from gate.zones.models import ZoneLockRecord
from passes import ZoneLevel, ZoneScope

MAX_LOCK_DAYS = 366
"""Longest dated lock (a longer one is a typing error; an open-ended lock has no end)."""

ZONE_MESSAGES: dict[str, str] = {
    "no_such_place": N_("There is no %(scope)s %(place)s in this community."),
    "bad_period": N_("A lock must end after it starts."),
    "too_long": N_("A lock lasts at most %(days)d days; leave the end empty for until lifted."),
    "no_such_lock": N_("There is no zone lock %(lock)s in this community."),
    "already_lifted": N_("The zone lock %(lock)s is already lifted."),
    "already_ended": N_("The zone lock %(lock)s has already ended."),
    "reason_too_long": N_("The reason is at most 500 characters."),
}
"""The English message id of each :class:`ZoneError` code."""


class ZoneError(CodedError, ValueError):
    """A lock operation was refused: ``code`` and the ``params`` of its message."""

    messages = ZONE_MESSAGES


def lock_zone(
    session: Session,
    *,
    community_id: int,
    level: ZoneLevel,
    scope: ZoneScope,
    place_id: int,
    starts_at: datetime,
    ends_at: datetime | None,
    reason: str | None,
    actor: str,
) -> ZoneLockRecord:
    """Put ``level`` over the place; raises :class:`ZoneError` (nothing written) when the place
    is not the community's, the period is empty or longer than :data:`MAX_LOCK_DAYS`."""
    if _community_of(session, scope, place_id) != community_id:
        raise ZoneError("no_such_place", scope=scope.value, place=str(place_id))
    _check_period(starts_at, ends_at)
    text = (reason or "").strip() or None
    if text is not None and len(text) > 500:
        raise ZoneError("reason_too_long")
    record = ZoneLockRecord(
        community_id=community_id,
        level=level,
        scope=scope,
        building_id=place_id if scope is ZoneScope.BUILDING else None,
        compound_id=place_id if scope is ZoneScope.COMPOUND else None,
        grid_id=place_id if scope is ZoneScope.GRID else None,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=text,
        created_by=actor,
    )
    session.add(record)
    session.flush()
    _audit(
        session,
        record,
        actor,
        "zone.lock",
        reason=text,
        details={
            "level": level.value,
            "scope": scope.value,
            "place_id": place_id,
            "starts_at": starts_at.isoformat(),
            "ends_at": None if ends_at is None else ends_at.isoformat(),
        },
    )
    return record


def lift_zone(
    session: Session, *, community_id: int, lock_id: int, at: datetime, actor: str
) -> ZoneLockRecord:
    """End the lock at ``at`` (cancel it when it has not started); raises :class:`ZoneError`
    when there is no such lock, or it is lifted or over already."""
    record = _lock(session, community_id, lock_id)
    if record.lifted_at is not None:
        raise ZoneError("already_lifted", lock=lock_id)
    if record.ends_at is not None and record.ends_at <= at:
        raise ZoneError("already_ended", lock=lock_id)
    record.lifted_at = at
    record.lifted_by = actor
    if at > record.starts_at:
        record.ends_at = at
    session.flush()
    _audit(session, record, actor, "zone.lift", details={"lifted_at": at.isoformat()})
    return record


def set_zone_end(
    session: Session,
    *,
    community_id: int,
    lock_id: int,
    ends_at: datetime | None,
    now: datetime,
    actor: str,
) -> ZoneLockRecord:
    """Move the end of a lock not lifted and not over (None: until lifted)."""
    record = _lock(session, community_id, lock_id)
    if record.lifted_at is not None:
        raise ZoneError("already_lifted", lock=lock_id)
    if record.ends_at is not None and record.ends_at <= now:
        raise ZoneError("already_ended", lock=lock_id)
    _check_period(record.starts_at, ends_at)
    before = record.ends_at
    record.ends_at = ends_at
    session.flush()
    _audit(
        session,
        record,
        actor,
        "zone.end_changed",
        details={
            "ends_at_before": None if before is None else before.isoformat(),
            "ends_at": None if ends_at is None else ends_at.isoformat(),
        },
    )
    return record


def _check_period(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is None:
        return
    if ends_at <= starts_at:
        raise ZoneError("bad_period")
    if ends_at - starts_at > timedelta(days=MAX_LOCK_DAYS):
        raise ZoneError("too_long", days=MAX_LOCK_DAYS)


def _lock(session: Session, community_id: int, lock_id: int) -> ZoneLockRecord:
    record = session.get(ZoneLockRecord, lock_id)
    if record is None or record.community_id != community_id:
        raise ZoneError("no_such_lock", lock=lock_id)
    return record


def _community_of(session: Session, scope: ZoneScope, place_id: int) -> int | None:
    query = select(Area.community_id).join(Grid, Grid.area_id == Area.id)
    if scope is ZoneScope.GRID:
        query = query.where(Grid.id == place_id)
    else:
        query = query.join(Compound, Compound.grid_id == Grid.id)
        if scope is ZoneScope.COMPOUND:
            query = query.where(Compound.id == place_id)
        else:
            query = query.join(Building, Building.compound_id == Compound.id).where(
                Building.id == place_id
            )
    return session.scalar(query)


def _audit(
    session: Session,
    record: ZoneLockRecord,
    actor: str,
    action: str,
    *,
    reason: str | None = None,
    details: dict[str, object],
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        community_id=record.community_id,
        subject_type="zone_lock",
        subject_id=record.id,
        reason=reason,
        details=details,
    )
