"""The office's household list: every household of a community in address order, a page at a
time, narrowed by place and found by a search text typed as a clerk types it.

The text is read as the import reads a sheet cell (NFKC: ``８００３`` is ``8003``) and matches
a household code, a room, a contact phone, a member's name or phone, a building (``5号楼``
is the building stored as ``5``, :func:`gate.households.place_names.normalise_place_name`),
or the name of an area, grid or compound (``西区``); a complete valid ID number finds its
holder only (through its hash, never the plaintext). The household's own search
(:func:`gate.households.queries.search_households`) is left as it is for its other callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session, selectinload

from gate.community.models import Area, Building, Compound, Grid
from gate.households.fields import nfkc
from gate.households.id_numbers import hash_id_number
from gate.households.models import Household, Member
from gate.households.operations import address_key, normalise_household_code
from gate.households.place_names import normalise_place_name
from gate.households.queries import HouseholdSearch
from gate.households.validation import check_id_number, normalise_id_number

PAGE_SIZE = 200


@dataclass(frozen=True)
class HouseholdPage:
    """One page of the list: its households (members and building loaded), how many match in
    all, the page number (from 1) and how many pages there are (at least 1)."""

    households: list[Household]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class BuildingChoice:
    """A building as the list's filter offers it (its compound's name when there are several
    compounds, whose buildings may share names)."""

    id: int
    label: str


def household_page(
    session: Session,
    community_id: int,
    search: HouseholdSearch,
    *,
    id_key: bytes,
    page: int = 1,
    size: int = PAGE_SIZE,
) -> HouseholdPage:
    """Page ``page`` (clamped to the pages there are) of the households matching ``search``,
    in address order (:func:`gate.households.operations.address_key`)."""
    # Every match's address only (no ORM rows): sorted here as address_key sorts households.
    query = _filtered(community_id, search, id_key).with_only_columns(
        Household.id, Building.code, Household.unit, Household.room, Household.code
    )
    addresses = [
        _Address(id_, _Building(building), unit, room, code)
        for id_, building, unit, room, code in session.execute(query)
    ]
    ordered = sorted(addresses, key=address_key)  # type: ignore[arg-type]  # reads these fields
    total = len(ordered)
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    ids = [address.id for address in ordered[(page - 1) * size : page * size]]
    loaded = {
        household.id: household
        for household in session.scalars(
            select(Household)
            .where(Household.id.in_(ids))
            .options(selectinload(Household.members), selectinload(Household.building))
        )
    }
    return HouseholdPage([loaded[i] for i in ids if i in loaded], total, page, pages)


@dataclass(frozen=True)
class _Building:
    code: str


@dataclass(frozen=True)
class _Address:
    """What :func:`gate.households.operations.address_key` reads of a household."""

    id: int
    building: _Building
    unit: str | None
    room: str | None
    code: str


def building_choices(
    session: Session, community_id: int, *, area_id: int | None, grid_id: int | None
) -> list[BuildingChoice]:
    """The community's buildings, in the chosen area or grid if any, by compound and code."""
    query = (
        select(Building, Compound.name)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Area.community_id == community_id)
        .order_by(Compound.code, Building.code)
    )
    if grid_id:
        query = query.where(Compound.grid_id == grid_id)
    elif area_id:
        query = query.where(Grid.area_id == area_id)
    rows = session.execute(query).all()
    several = len({compound for _building, compound in rows}) > 1
    return [
        BuildingChoice(building.id, f"{compound} {building.name}" if several else building.name)
        for building, compound in rows
    ]


def _filtered(community_id: int, search: HouseholdSearch, id_key: bytes) -> Select[Household]:
    query = (
        select(Household)
        .join(Household.building)
        .join(Building.compound)
        .join(Compound.grid)
        .join(Grid.area)
        .where(Household.community_id == community_id)
    )
    if search.building_id:
        query = query.where(Household.building_id == search.building_id)
    elif search.grid_id:
        query = query.where(Compound.grid_id == search.grid_id)
    elif search.area_id:
        query = query.where(Grid.area_id == search.area_id)
    text = nfkc(search.text)
    return query.where(_matching(text, id_key)) if text else query


def _matching(text: str, id_key: bytes) -> ColumnElement[bool]:
    id_number = normalise_id_number(text)
    if check_id_number(id_number):
        holders = select(Member.household_id).where(
            Member.id_number_hash == hash_id_number(id_key, id_number)
        )
        return Household.id.in_(holders)
    pattern = _like(text)
    members = select(Member.household_id).where(
        or_(Member.name.like(pattern, escape="\\"), Member.phone.like(pattern, escape="\\"))
    )
    building = normalise_place_name(text, "building")
    return or_(
        Household.code.like(_like(normalise_household_code(text)), escape="\\"),
        Household.room.like(pattern, escape="\\"),
        Household.contact_phone.like(pattern, escape="\\"),
        Household.id.in_(members),
        Building.name == building,
        Building.name.like(pattern, escape="\\"),
        Compound.name.like(pattern, escape="\\"),
        Grid.name.like(pattern, escape="\\"),
        Area.name.like(pattern, escape="\\"),
    )


def _like(text: str) -> str:
    """``%text%`` for LIKE with ``\\`` as the escape character."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
