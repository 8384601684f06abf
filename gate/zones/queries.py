"""Reading lockdown zones: what a household's decision needs, the bundle's locks, the lists.

Which locks reach a decision: sealed ones (the only level that changes a verdict) not over at
the given time and not cancelled before they started, over the household's building, its
compound or its compound's grid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from gate.community.models import Area, Building, Compound, Grid
from gate.households.models import Household
from gate.zones.models import ZoneLockRecord
from passes import ZoneLevel, ZoneLock, ZoneScope

_Z = ZoneLockRecord


def deciding(at: datetime) -> ColumnElement[bool]:
    """The lock is a seal that still holds at ``at`` (not ended, not lifted)."""
    return and_(
        _Z.level == ZoneLevel.SEALED,
        or_(_Z.ends_at.is_(None), _Z.ends_at > at),
        or_(_Z.lifted_at.is_(None), _Z.lifted_at > _Z.starts_at),
    )


def covers() -> ColumnElement[bool]:
    """The lock covers the household (joined with its building and compound)."""
    return or_(
        and_(_Z.scope == ZoneScope.BUILDING, _Z.building_id == Building.id),
        and_(_Z.scope == ZoneScope.COMPOUND, _Z.compound_id == Compound.id),
        and_(_Z.scope == ZoneScope.GRID, _Z.grid_id == Compound.grid_id),
    )


def _as_lock(record: ZoneLockRecord) -> ZoneLock:
    return ZoneLock(record.level, record.scope, record.starts_at, record.ends_at)


def household_locks(session: Session, household_id: int, at: datetime) -> tuple[ZoneLock, ...]:
    """The locks that decide household ``household_id``'s exits at ``at`` or later."""
    records = session.scalars(
        select(_Z)
        .join(Household, Household.community_id == _Z.community_id)
        .join(Building, Building.id == Household.building_id)
        .join(Compound, Compound.id == Building.compound_id)
        .where(Household.id == household_id, deciding(at), covers())
        .order_by(_Z.id)
    )
    return tuple(_as_lock(record) for record in records)


def bundle_locks(
    session: Session, community_id: int, at: datetime
) -> Mapping[int, tuple[ZoneLock, ...]]:
    """Household id -> the locks that decide its exits at ``at`` or later (for the bundle:
    only households under a lock appear)."""
    rows = session.execute(
        select(Household.id, _Z)
        .select_from(Household)
        .join(Building, Building.id == Household.building_id)
        .join(Compound, Compound.id == Building.compound_id)
        .join(_Z, and_(_Z.community_id == Household.community_id, covers()))
        .where(Household.community_id == community_id, deciding(at))
        .order_by(Household.id, _Z.id)
    )
    found: dict[int, list[ZoneLock]] = defaultdict(list)
    for household_id, record in rows:
        found[household_id].append(_as_lock(record))
    return {key: tuple(value) for key, value in found.items()}


@dataclass(frozen=True)
class LockRow:
    """One lock as the office lists it."""

    id: int
    level: ZoneLevel
    scope: ZoneScope
    place: str
    """The place's name (楼栋 with its compound, 小区, 网格)."""
    starts_at: datetime
    ends_at: datetime | None
    reason: str | None
    created_by: str
    lifted_at: datetime | None
    lifted_by: str | None
    households: int
    """Households the lock covers now."""

    def state(self, now: datetime) -> str:
        """``upcoming``, ``in_force``, ``cancelled`` or ``ended``."""
        if self.lifted_at is not None and self.lifted_at <= self.starts_at:
            return "cancelled"
        if self.ends_at is not None and self.ends_at <= now:
            return "ended"
        return "upcoming" if now < self.starts_at else "in_force"


def list_locks(
    session: Session, community_id: int, *, now: datetime, current_only: bool = False
) -> list[LockRow]:
    """The community's locks, newest first; ``current_only``: those not over at ``now``."""
    query = select(_Z).where(_Z.community_id == community_id).order_by(_Z.id.desc())
    if current_only:
        query = query.where(
            or_(_Z.ends_at.is_(None), _Z.ends_at > now),
            or_(_Z.lifted_at.is_(None), _Z.lifted_at > _Z.starts_at),
        )
    records = list(session.scalars(query))
    names = place_names(session, community_id)
    return [
        LockRow(
            id=record.id,
            level=record.level,
            scope=record.scope,
            place=names.get((record.scope, record.place_id), str(record.place_id)),
            starts_at=record.starts_at,
            ends_at=record.ends_at,
            reason=record.reason,
            created_by=record.created_by,
            lifted_at=record.lifted_at,
            lifted_by=record.lifted_by,
            households=_covered(session, record),
        )
        for record in records
    ]


def _covered(session: Session, record: ZoneLockRecord) -> int:
    query = (
        select(func.count(Household.id))
        .join(Building, Building.id == Household.building_id)
        .join(Compound, Compound.id == Building.compound_id)
    )
    if record.scope is ZoneScope.BUILDING:
        query = query.where(Building.id == record.building_id)
    elif record.scope is ZoneScope.COMPOUND:
        query = query.where(Compound.id == record.compound_id)
    elif record.scope is ZoneScope.GRID:
        query = query.where(Compound.grid_id == record.grid_id)
    else:  # pragma: no cover - the enum has three members
        query = query.where(false())
    return session.scalar(query) or 0


def place_names(session: Session, community_id: int) -> dict[tuple[ZoneScope, int], str]:
    """(scope, id) -> display name of every grid, compound and building of the community
    (a building with its compound: ``阳光小区 3号楼``)."""
    names: dict[tuple[ZoneScope, int], str] = {}
    rows = session.execute(
        select(Grid.id, Grid.name, Compound.id, Compound.name, Building.id, Building.name)
        .select_from(Area)
        .join(Grid, Grid.area_id == Area.id)
        .outerjoin(Compound, Compound.grid_id == Grid.id)
        .outerjoin(Building, Building.compound_id == Compound.id)
        .where(Area.community_id == community_id)
        .order_by(Grid.id, Compound.id, Building.id)
    )
    for grid_id, grid, compound_id, compound, building_id, building in rows:
        names[(ZoneScope.GRID, grid_id)] = grid
        if compound_id is not None:
            names[(ZoneScope.COMPOUND, compound_id)] = compound
        if building_id is not None:
            names[(ZoneScope.BUILDING, building_id)] = f"{compound} {building}"
    return names


def find_place(session: Session, community_id: int, scope: ZoneScope, name: str) -> int | None:
    """The id of the community's place of ``scope`` called ``name`` (its name, its code, or for
    a building ``<compound> <building>``), None when none or several match."""
    wanted = name.strip()
    matches = [
        place_id
        for (kind, place_id), label in place_names(session, community_id).items()
        if kind is scope and wanted in {label, label.split(" ", 1)[-1]}
    ]
    matches += _by_code(session, community_id, scope, wanted)
    unique = set(matches)
    return unique.pop() if len(unique) == 1 else None


def _by_code(session: Session, community_id: int, scope: ZoneScope, code: str) -> list[int]:
    base = select(Grid.id).join(Area, Area.id == Grid.area_id)
    if scope is ZoneScope.GRID:
        query = base.where(Grid.code == code)
    elif scope is ZoneScope.COMPOUND:
        query = (
            select(Compound.id)
            .join(Grid, Grid.id == Compound.grid_id)
            .join(Area, Area.id == Grid.area_id)
            .where(Compound.code == code)
        )
    else:
        compound_code, _, building_code = code.partition("-")
        query = (
            select(Building.id)
            .join(Compound, Compound.id == Building.compound_id)
            .join(Grid, Grid.id == Compound.grid_id)
            .join(Area, Area.id == Grid.area_id)
            .where(Compound.code == compound_code, Building.code == building_code)
        )
    return list(session.scalars(query.where(Area.community_id == community_id)))
