"""Reading issued passes, and choosing what to print."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
class PlaceChoice:
    """One entry of a print or issue list: what the clerk reads, and the rows it stands for.

    Two building rows that read the same (``7号楼`` and ``7`` from two imports, both shown as
    7号楼 in one grid) are one entry: choosing it takes the households of both.
    """

    label: str
    ids: tuple[int, ...]

    @property
    def value(self) -> str:
        """The form value: the ids joined with ``+`` (see :func:`parse_place_value`)."""
        return "+".join(str(i) for i in self.ids)


def parse_place_value(value: str) -> tuple[int, ...]:
    """The ids of a :attr:`PlaceChoice.value` (empty when it is not one)."""
    parts = value.split("+") if value else []
    if not parts or not all(p.isascii() and p.isdigit() and len(p) < 12 for p in parts):
        return ()
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class PrintPlaces:
    """The buildings and grids a print or issuing run may choose from, each listed once."""

    buildings: list[PlaceChoice]
    grids: list[PlaceChoice]


def print_places(session: Session, community_id: int) -> PrintPlaces:
    """The community's buildings (labelled ``7号楼 (网格)``, or with the compound too when a
    grid has several) and grids, in natural order; rows that read the same are one entry."""
    buildings = session.scalars(
        select(Building)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Area.community_id == community_id)
        .options(selectinload(Building.compound).selectinload(Compound.grid))
        .order_by(Building.id)
    ).all()
    grids = session.scalars(
        select(Grid).join(Grid.area).where(Area.community_id == community_id).order_by(Grid.id)
    ).all()
    compounds_per_grid: dict[int, set[int]] = {}
    for building in buildings:
        compounds_per_grid.setdefault(building.compound.grid_id, set()).add(building.compound_id)
    by_label: dict[str, list[Building]] = {}
    for building in buildings:
        grid = building.compound.grid
        where = grid.name
        if len(compounds_per_grid[grid.id]) > 1:
            where = f"{grid.name} · {building.compound.name}"
        by_label.setdefault(f"{building.name} ({where})", []).append(building)
    building_choices = sorted(
        (PlaceChoice(label, tuple(b.id for b in rows)) for label, rows in by_label.items()),
        key=lambda c: _natural(c.label),
    )
    grid_labels: dict[str, list[int]] = {}
    for grid in grids:
        grid_labels.setdefault(grid.name, []).append(grid.id)
    grid_choices = sorted(
        (PlaceChoice(label, tuple(ids)) for label, ids in grid_labels.items()),
        key=lambda c: _natural(c.label),
    )
    return PrintPlaces(building_choices, grid_choices)


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


@dataclass(frozen=True)
class PlaceHouseholds:
    """The households of one place (buildings or grids), in address order, and its name."""

    households: list[Household]
    label: str


def place_households(
    session: Session,
    community_id: int,
    *,
    building_ids: Sequence[int] = (),
    grid_ids: Sequence[int] = (),
) -> PlaceHouseholds | None:
    """The households of the buildings ``building_ids`` or else the grids ``grid_ids`` (one
    :class:`PlaceChoice`), if every one of them is the community's (None otherwise: another
    community's ids reveal nothing)."""
    query = (
        select(Household)
        .join(Household.building)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Household.community_id == community_id, Area.community_id == community_id)
        .options(selectinload(Household.building))
    )
    places: list[Building | Grid | None]
    if building_ids:
        places = [session.get(Building, i) for i in building_ids]
        query = query.where(Household.building_id.in_(building_ids))
    else:
        places = [session.get(Grid, i) for i in grid_ids]
        query = query.where(Compound.grid_id.in_(grid_ids))
    if not places or any(p is None or _community_of(p) != community_id for p in places):
        return None
    label = places[0].name if places[0] is not None else ""
    return PlaceHouseholds(sorted(session.scalars(query), key=address_key), label)


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
