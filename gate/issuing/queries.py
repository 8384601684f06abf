"""Reading issued passes, and choosing what to print."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from gate.community.models import Area, Building, Compound, Grid
from gate.households.models import Household
from gate.households.operations import address_key
from gate.issuing.models import IssuedPass, PassStatus


def active_passes(
    session: Session,
    community_id: int,
    *,
    household_id: int | None = None,
    manual_code: str | None = None,
) -> list[IssuedPass]:
    """Active passes of the community: a household's, or the one with ``manual_code``
    (compared the way it is printed: upper case, no surrounding blanks)."""
    query = select(IssuedPass).where(
        IssuedPass.community_id == community_id, IssuedPass.status == PassStatus.ACTIVE
    )
    if household_id is not None:
        query = query.where(IssuedPass.household_id == household_id)
    if manual_code is not None:
        query = query.where(IssuedPass.manual_code == manual_code.strip().upper())
    return list(session.scalars(query.order_by(IssuedPass.id)))


def households_holding_key(session: Session, key_id: int) -> int:
    """How many households hold an active pass signed with key ``key_id``."""
    count = session.scalar(
        select(func.count(IssuedPass.household_id.distinct())).where(
            IssuedPass.key_id == key_id, IssuedPass.status == PassStatus.ACTIVE
        )
    )
    return count or 0


@dataclass(frozen=True)
class PrintPlaces:
    """The buildings (with their grid loaded) and grids a print run may choose from."""

    buildings: list[Building]
    grids: list[Grid]


def print_places(session: Session, community_id: int) -> PrintPlaces:
    """The community's buildings and grids, by code."""
    buildings = session.scalars(
        select(Building)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Area.community_id == community_id)
        .options(selectinload(Building.compound).selectinload(Compound.grid))
        .order_by(Building.code)
    ).all()
    grids = session.scalars(
        select(Grid).join(Grid.area).where(Area.community_id == community_id).order_by(Grid.code)
    ).all()
    return PrintPlaces(list(buildings), list(grids))


@dataclass(frozen=True)
class PlaceHouseholds:
    """The households of one building or grid, in address order, and the place's name."""

    households: list[Household]
    label: str


def place_households(
    session: Session,
    community_id: int,
    *,
    building_id: int | None = None,
    grid_id: int | None = None,
) -> PlaceHouseholds | None:
    """The households of building ``building_id`` or else grid ``grid_id``, if that place is
    the community's (None otherwise: another community's ids reveal nothing)."""
    query = (
        select(Household)
        .join(Household.building)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Household.community_id == community_id, Area.community_id == community_id)
        .options(selectinload(Household.building))
    )
    place: Building | Grid | None
    if building_id is not None:
        place = session.get(Building, building_id)
        query = query.where(Household.building_id == building_id)
    else:
        place = session.get(Grid, grid_id) if grid_id is not None else None
        query = query.where(Compound.grid_id == grid_id)
    if place is None or _community_of(place) != community_id:
        return None
    return PlaceHouseholds(sorted(session.scalars(query), key=address_key), place.name)


def _community_of(place: Building | Grid) -> int:
    grid = place.compound.grid if isinstance(place, Building) else place
    return grid.area.community_id


def household_passes(session: Session, community_id: int, household_id: int) -> list[IssuedPass]:
    """Every pass of a household (any status), newest first (the household page)."""
    return list(
        session.scalars(
            select(IssuedPass)
            .where(IssuedPass.household_id == household_id, IssuedPass.community_id == community_id)
            .order_by(IssuedPass.id.desc())
        )
    )
