"""The office's household list: true totals, pages in address order, and a search that finds
buildings by name (5号楼), places by name (西区) and full-width digits (８００３)."""

from __future__ import annotations

import pytest
from factories import make_household
from sqlalchemy.orm import Session

from gate.community.models import Area, Building, Community, Compound, Grid
from gate.households.listing import building_choices, household_page
from gate.households.queries import HouseholdSearch

KEY = b"k" * 32


def _building(session: Session, community: Community, area: str, name: str) -> Building:
    area_row = Area(community=community, name=area, code=f"A{area}")
    grid = Grid(area=area_row, name=f"{area}网格", code=f"G{area}", grid_worker_name="王")
    compound = Compound(grid=grid, name=f"{area}小区", code=f"P{area}")
    building = Building(compound=compound, name=name, code=name)
    session.add(building)
    session.flush()
    return building


@pytest.fixture
def places(db_session: Session, community: Community) -> tuple[Building, Building]:
    east = _building(db_session, community, "东区", "5")
    west = _building(db_session, community, "西区", "7")
    for room in ("8003", "101", "10", "2"):
        make_household(db_session, building=east, code=f"5-1-{room}", unit="1", room=room)
    for room in ("201", "202"):
        make_household(db_session, building=west, code=f"7-1-{room}", unit="1", room=room)
    return east, west


def _codes(session: Session, community: Community, **search: object) -> list[str]:
    page = household_page(session, community.id, HouseholdSearch(**search), id_key=KEY)  # type: ignore[arg-type]
    return [h.code for h in page.households]


def test_the_search_finds_buildings_places_and_full_width_digits(
    db_session: Session, community: Community, places: tuple[Building, Building]
) -> None:
    east = ["5-1-2", "5-1-10", "5-1-101", "5-1-8003"]  # address order: 2 before 10
    west = ["7-1-201", "7-1-202"]
    assert _codes(db_session, community) == east + west
    assert _codes(db_session, community, text="5号楼") == east
    assert _codes(db_session, community, text="第５栋") == east
    assert _codes(db_session, community, text="西区") == west
    assert _codes(db_session, community, text="８００３") == ["5-1-8003"]
    assert _codes(db_session, community, text="nothing-like-this") == []
    assert _codes(db_session, community, building_id=places[1].id) == west
    assert _codes(db_session, community, building_id=places[1].id, text="5号楼") == []


def test_pages_count_every_household_and_keep_address_order(
    db_session: Session, community: Community, places: tuple[Building, Building]
) -> None:
    pages = [
        household_page(db_session, community.id, HouseholdSearch(), id_key=KEY, page=n, size=4)
        for n in (1, 2, 3, 0)
    ]
    assert [(p.total, p.page, p.pages) for p in pages] == [
        (6, 1, 2),
        (6, 2, 2),
        (6, 2, 2),
        (6, 1, 2),
    ]
    assert [h.code for h in pages[1].households] == ["7-1-201", "7-1-202"]
    assert all(h.members for h in pages[0].households)  # loaded for the list's head column
    empty = household_page(db_session, community.id, HouseholdSearch(text="无"), id_key=KEY)
    assert (empty.total, empty.page, empty.pages, empty.households) == (0, 1, 1, [])


def test_the_building_filter_offers_every_building_or_the_chosen_areas(
    db_session: Session, community: Community, places: tuple[Building, Building]
) -> None:
    east, west = places
    every = building_choices(db_session, community.id, area_id=None, grid_id=None)
    assert [c.id for c in every] == [east.id, west.id]
    assert [c.label for c in every] == ["东区小区 5", "西区小区 7"]  # several compounds
    only_west = building_choices(
        db_session, community.id, area_id=west.compound.grid.area_id, grid_id=None
    )
    assert [c.id for c in only_west] == [west.id]
