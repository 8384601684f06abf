"""Reading households: lookups by code, the console's list filters and household search."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from gate.community.models import Area, Building, Compound, Grid
from gate.households.id_numbers import hash_id_number
from gate.households.models import Household, Member
from gate.households.operations import address_key, normalise_household_code
from gate.households.validation import check_id_number, normalise_id_number


def household_by_code(session: Session, community_id: int, code: str) -> Household | None:
    """Household ``code`` of community ``community_id``, or None. The code is tried as given
    (links carry the stored code) and in its normalised form (what an import stores)."""
    return session.scalar(
        select(Household)
        .where(
            Household.community_id == community_id,
            Household.code.in_({code, normalise_household_code(code)}),
        )
        .limit(1)
    )


@dataclass(frozen=True)
class PlaceFilters:
    """The choices of the household list's filters: every area, the chosen area's grids,
    the chosen grid's buildings (all of community ``community_id``, by code)."""

    areas: list[Area]
    grids: list[Grid] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)


def place_filters(
    session: Session, community_id: int, *, area_id: int | None, grid_id: int | None
) -> PlaceFilters:
    """The list filters' choices for the chosen area and grid (ids of another community
    give empty lists)."""
    areas = session.scalars(
        select(Area).where(Area.community_id == community_id).order_by(Area.code)
    ).all()
    grids = (
        session.scalars(
            select(Grid)
            .join(Grid.area)
            .where(Grid.area_id == area_id, Area.community_id == community_id)
            .order_by(Grid.code)
        ).all()
        if area_id
        else []
    )
    buildings = (
        session.scalars(
            select(Building)
            .join(Building.compound)
            .join(Compound.grid)
            .join(Grid.area)
            .where(Compound.grid_id == grid_id, Area.community_id == community_id)
            .order_by(Building.code)
        ).all()
        if grid_id
        else []
    )
    return PlaceFilters(list(areas), list(grids), list(buildings))


@dataclass(frozen=True)
class HouseholdSearch:
    """What the office asked for: a place (the narrowest given wins) and a search text."""

    area_id: int | None = None
    grid_id: int | None = None
    building_id: int | None = None
    text: str = ""


@dataclass(frozen=True)
class Found:
    """Households found, in address order, and whether there were more than the limit."""

    households: list[Household]
    truncated: bool


def search_households(
    session: Session, community_id: int, search: HouseholdSearch, *, id_key: bytes, limit: int
) -> Found:
    """Households of ``community_id`` in the chosen place matching ``search.text``.

    The text matches a household code (typed in any width), a room, a contact phone, a
    member's name or phone (substring), or, when it is a complete valid ID number, the
    member holding it (exact, through ``id_number_hash`` under ``id_key``: plaintext ID
    numbers are never searched). Members and building are loaded. At most ``limit``.
    """
    query = (
        select(Household)
        .join(Household.building)
        .join(Building.compound)
        .join(Compound.grid)
        .where(Household.community_id == community_id)
        .options(selectinload(Household.members), selectinload(Household.building))
    )
    if search.building_id:
        query = query.where(Household.building_id == search.building_id)
    elif search.grid_id:
        query = query.where(Compound.grid_id == search.grid_id)
    elif search.area_id:
        query = query.where(Grid.area_id == search.area_id)
    if search.text:
        query = _matching(query, search.text, id_key)
    found = list(session.scalars(query.limit(limit + 1)).unique())
    return Found(sorted(found[:limit], key=address_key), len(found) > limit)


def _matching(query: Select[Household], text: str, id_key: bytes) -> Select[Household]:
    id_number = normalise_id_number(text)
    if check_id_number(id_number):
        holders = select(Member.household_id).where(
            Member.id_number_hash == hash_id_number(id_key, id_number)
        )
        return query.where(Household.id.in_(holders))
    pattern = "%" + _escape(text) + "%"
    code_pattern = "%" + _escape(normalise_household_code(text)) + "%"
    members = select(Member.household_id).where(
        or_(Member.name.like(pattern, escape="\\"), Member.phone.like(pattern, escape="\\"))
    )
    return query.where(
        or_(
            Household.code.like(code_pattern, escape="\\"),
            Household.room.like(pattern, escape="\\"),
            Household.contact_phone.like(pattern, escape="\\"),
            Household.id.in_(members),
        )
    )


def _escape(text: str) -> str:
    """``text`` for a LIKE pattern with ``\\`` as the escape character."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
