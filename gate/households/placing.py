"""Where an imported household's building sits: area (片区), grid (网格), compound (小区).

Contract of :class:`PlaceFinder` (one per import; it reads the community's hierarchy once):

- A building that exists is found by its normalised code; the row's area, grid and compound,
  where filled in, pick among buildings of the same code (:meth:`Place.matches`). A row that
  names no place needs none when its building is known.
- A new building goes where the row says. Each level left empty means the only row of that
  level there is; when there are several, the unassigned bucket (``未分片区``/``未分网格``, code
  ``default``, created when missing) takes the building, and the preview lists the new place
  so the office can move it later. This keeps 片区/网格 optional once a second one exists.
- A compound named on a row is found among the grid's compounds (by code, then name), or
  first across the whole community when the row names no area and no grid and exactly one
  compound has that name; it is created when missing. A compound left empty is the grid's
  only one (a new one named after the community when the grid has none); with several it is
  an error: the row must name the compound (``name_the_compound``).
- In planning mode nothing is written: planned rows are transient objects never added to
  the session; in writing mode every new row is added and flushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.models import Area, Building, Community, Compound, Grid
from gate.community.operations import (
    CODE_LENGTH,
    DEFAULT_AREA_NAME,
    DEFAULT_CODE,
    DEFAULT_GRID_NAME,
    building_name,
    community_buildings,
)
from gate.errors import N_

__all__ = ["PLACE_MESSAGES", "Place", "PlaceFinder", "PlaceProblem"]

_Row = TypeVar("_Row", Area, Grid, Compound)

PLACE_MESSAGES = {
    "name_the_compound": N_("Grid %(grid)s has several compounds: fill in the compound (小区)."),
    "ambiguous_place": N_("%(name)s names several areas, grids or compounds: use its code."),
}


class PlaceProblem(Exception):
    """The row's place cannot be decided: a code, an English msgid and its parameters."""

    def __init__(self, code: str, **params: str | int) -> None:
        self.code, self.params = code, params
        self.message_id = PLACE_MESSAGES[code]
        super().__init__(self.message_id % params)


@dataclass(frozen=True)
class Place:
    """A building and where it sits: an existing one, or one a dry run would create."""

    building: Building | None  # None: planned, not written
    area: Area
    grid: Grid
    compound: Compound

    @property
    def building_id(self) -> int | None:
        return None if self.building is None else self.building.id

    @property
    def label(self) -> str:
        return f"{self.area.name}/{self.grid.name}/{self.compound.name}"

    def matches(self, area: str | None, grid: str | None, compound: str | None) -> bool:
        """Whether the names a row gives (None: not given) fit this place."""
        return all(
            wanted is None or wanted in (row.code, row.name)
            for wanted, row in ((area, self.area), (grid, self.grid), (compound, self.compound))
        )


class PlaceFinder:
    """The community's areas, grids, compounds and buildings, and the new ones an import adds."""

    def __init__(self, session: Session, community: Community, *, planning: bool) -> None:
        self.session, self.community, self.planning = session, community, planning
        self.new_places: list[str] = []
        self.areas = list(session.scalars(select(Area).where(Area.community_id == community.id)))
        area_ids = {area.id: area for area in self.areas}
        self.grids: dict[Area, list[Grid]] = {area: [] for area in self.areas}
        grid_rows = session.scalars(select(Grid).where(Grid.area_id.in_(area_ids)))
        grid_ids: dict[int, Grid] = {}
        for grid in grid_rows:
            self.grids[area_ids[grid.area_id]].append(grid)
            grid_ids[grid.id] = grid
        self.compounds: dict[Grid, list[Compound]] = {grid: [] for grid in grid_ids.values()}
        self.parent_of: dict[Compound, Grid] = {}
        self.area_of: dict[Grid, Area] = {g: area_ids[g.area_id] for g in grid_ids.values()}
        for compound in session.scalars(select(Compound).where(Compound.grid_id.in_(grid_ids))):
            self.compounds[grid_ids[compound.grid_id]].append(compound)
            self.parent_of[compound] = grid_ids[compound.grid_id]
        self.buildings: dict[str, list[Place]] = {}
        for building in community_buildings(session, community):
            compound = building.compound
            grid = self.parent_of[compound]
            place = Place(building, self.area_of[grid], grid, compound)
            self.buildings.setdefault(building.code, []).append(place)

    # --- lookups ----------------------------------------------------------------------------

    def known(self, code: str) -> list[Place]:
        """The places of building ``code`` (existing or planned)."""
        return self.buildings.get(code, [])

    def add_building(
        self, code: str, area: str | None, grid: str | None, compound: str | None
    ) -> Place:
        """Building ``code`` placed as the row says (see the module contract); raises
        :class:`PlaceProblem`."""
        found = self._compound_anywhere(compound) if area is None and grid is None else None
        if found is not None:
            compound_row = found
            grid_row = self.parent_of[compound_row]
            area_row = self.area_of[grid_row]
        else:
            area_row = self._area(area)
            grid_row = self._grid(area_row, grid)
            compound_row = self._compound(grid_row, compound)
        building = None
        if not self.planning:
            building = Building(compound=compound_row, code=code, name=building_name(code))
            self.session.add(building)
            self.session.flush()
        place = Place(building, area_row, grid_row, compound_row)
        self.buildings.setdefault(code, []).append(place)
        self.new_places.append(f"楼栋 {building_name(code)} ({place.label})")
        return place

    def _compound_anywhere(self, name: str | None) -> Compound | None:
        if name is None:
            return None
        matches = [c for c in self.parent_of if name in (c.code, c.name)]
        return matches[0] if len(matches) == 1 else None

    def _area(self, name: str | None) -> Area:
        found = self._pick(self.areas, name)
        if found is not None:
            return found
        area = Area(name=name or DEFAULT_AREA_NAME, code=self._code(self.areas, name))
        if not self.planning:
            area.community = self.community
            self._write(area)
        self.areas.append(area)
        self.grids[area] = []
        self.new_places.append(f"片区 {area.name}")
        return area

    def _grid(self, area: Area, name: str | None) -> Grid:
        grids = self.grids[area]
        found = self._pick(grids, name)
        if found is not None:
            return found
        grid = Grid(name=name or DEFAULT_GRID_NAME, code=self._code(grids, name))
        if not self.planning:
            grid.area = area
            self._write(grid)
        grids.append(grid)
        self.compounds[grid] = []
        self.area_of[grid] = area
        self.new_places.append(f"网格 {grid.name}")
        return grid

    def _compound(self, grid: Grid, name: str | None) -> Compound:
        compounds = self.compounds[grid]
        if name is None:
            if len(compounds) == 1:
                return compounds[0]
            default = next((c for c in compounds if c.code == DEFAULT_CODE), None)
            if default is not None:
                return default
            if compounds:
                raise PlaceProblem("name_the_compound", grid=grid.name)
        else:
            found = self._pick(compounds, name)
            if found is not None:
                return found
        compound_name = name or self.community.name[:100]
        compound = Compound(name=compound_name, code=self._code(compounds, name))
        if not self.planning:
            compound.grid = grid
            self._write(compound)
        compounds.append(compound)
        self.parent_of[compound] = grid
        self.new_places.append(f"小区 {compound.name}")
        return compound

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _pick(rows: list[_Row], name: str | None) -> _Row | None:
        """The row ``name`` designates (code first, then name); with no name the only row,
        else the unassigned (``default``) one; None when a new one is wanted."""
        if name is None:
            if len(rows) == 1:
                return rows[0]
            return next((r for r in rows if r.code == DEFAULT_CODE), None)
        by_code = [r for r in rows if r.code == name]
        if by_code:
            return by_code[0]
        by_name = [r for r in rows if r.name == name]
        if len(by_name) > 1:
            raise PlaceProblem("ambiguous_place", name=name)
        return by_name[0] if by_name else None

    @staticmethod
    def _code(rows: list[_Row], name: str | None) -> str:
        taken = {r.code for r in rows}
        wanted = name or DEFAULT_CODE
        if len(wanted) <= CODE_LENGTH and wanted not in taken:
            return wanted
        n = len(taken) + 1
        while f"P{n}" in taken:
            n += 1
        return f"P{n}"

    def _write(self, row: Area | Grid | Compound) -> None:
        self.session.add(row)
        self.session.flush()
