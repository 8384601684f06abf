"""The office's own setup of the hierarchy: add and rename areas (片区), grids (网格),
compounds (小区/院落) and buildings (楼栋); merge two buildings that are the same.

Every change is audited (``site.*`` actions) by the operation itself, so the console and any
later CLI leave the same trace. Rows are looked up scoped to one community: an id of another
community is "not found". Operations flush; the caller commits.

Merging moves the households of one building into the other and deletes the emptied row.
Passes carry the household id, never the building, so every printed card stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from gate.audit.operations import record_event
from gate.community.models import Area, Building, Community, Compound, Grid
from gate.community.operations import CODE_LENGTH, _free_code, building_name
from gate.errors import N_, CodedError
from gate.households.models import Household
from gate.households.place_names import normalise_place_name

Level = Literal["area", "grid", "compound", "building"]
Place = Area | Grid | Compound | Building
LEVELS: tuple[Level, ...] = ("area", "grid", "compound", "building")
_MODELS: dict[Level, type[Place]] = {
    "area": Area,
    "grid": Grid,
    "compound": Compound,
    "building": Building,
}
_CODE_PREFIX: dict[Level, str] = {"area": "A", "grid": "G", "compound": "P", "building": "B"}

HIERARCHY_MESSAGES: dict[str, str] = {
    "bad_place_name": N_("A name is 1 to 100 characters."),
    "bad_building_number": N_("A building number is 1 to 32 characters (e.g. 7 or 7号楼)."),
    "place_name_taken": N_("%(name)s already exists there: choose another name."),
    "no_such_place": N_("That place is not part of this community."),
    "merge_needs_two": N_("Choose two different buildings to merge."),
}


class HierarchyError(CodedError, ValueError):
    """A change of the hierarchy was refused: a stable ``code`` and its message's ``params``."""

    messages = HIERARCHY_MESSAGES


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteTree:
    """A community's areas with their grids, compounds and buildings loaded, and the number
    of households per building id (a building without households is absent: 0)."""

    areas: list[Area]
    households: dict[int, int]

    def count(self, building: Building) -> int:
        """Households registered in ``building``."""
        return self.households.get(building.id, 0)

    def buildings(self) -> list[Building]:
        """Every building, in tree order."""
        return [
            building
            for area in self.areas
            for grid in area.grids
            for compound in grid.compounds
            for building in compound.buildings
        ]


def site_tree(session: Session, community_id: int) -> SiteTree:
    """The whole hierarchy of ``community_id`` (four queries whatever its size)."""
    areas = list(
        session.scalars(
            select(Area)
            .where(Area.community_id == community_id)
            .options(
                selectinload(Area.grids)
                .selectinload(Grid.compounds)
                .selectinload(Compound.buildings)
            )
            .order_by(Area.id)
        )
    )
    for area in areas:  # natural order for the eye: 2号楼 before 10号楼
        area.grids.sort(key=lambda row: row.id)
        for grid in area.grids:
            grid.compounds.sort(key=lambda row: row.id)
            for compound in grid.compounds:
                compound.buildings.sort(key=lambda b: (_natural(b.code), b.id))
    counts = session.execute(
        select(Household.building_id, func.count())
        .where(Household.community_id == community_id)
        .group_by(Household.building_id)
    )
    return SiteTree(areas, {int(row[0]): int(row[1]) for row in counts})


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    parts: list[tuple[int, int | str]] = []
    number = ""
    for char in text + "\0":
        if char.isascii() and char.isdigit():
            number += char
            continue
        if number:
            parts.append((0, int(number)))
            number = ""
        if char != "\0":
            parts.append((1, char))
    return tuple(parts)


def community_of(place: Place) -> int:
    """The id of the community ``place`` belongs to."""
    if isinstance(place, Building):
        return place.compound.grid.area.community_id
    if isinstance(place, Compound):
        return place.grid.area.community_id
    if isinstance(place, Grid):
        return place.area.community_id
    return place.community_id


def find_place(session: Session, level: Level, place_id: int, community_id: int) -> Place:
    """Row ``place_id`` of ``level`` if it is ``community_id``'s, else
    :class:`HierarchyError` ``no_such_place`` (another community's ids reveal nothing)."""
    row = cast("Place | None", session.get(_MODELS[level], place_id))
    if row is None or community_of(row) != community_id:
        raise HierarchyError("no_such_place")
    return row


# --- adding and renaming ------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise HierarchyError("bad_place_name")
    return name


def _siblings(session: Session, level: Level, parent: Community | Place) -> list[Place]:
    model = _MODELS[level]
    column = {
        "area": Area.community_id,
        "grid": Grid.area_id,
        "compound": Compound.grid_id,
        "building": Building.compound_id,
    }[level]
    return list(session.scalars(select(model).where(column == parent.id)))


ADD_ACTIONS = {
    "area": "site.area_add",
    "grid": "site.grid_add",
    "compound": "site.compound_add",
    "building": "site.building_add",
}
RENAME_ACTIONS = {
    "area": "site.area_rename",
    "grid": "site.grid_rename",
    "compound": "site.compound_rename",
    "building": "site.building_rename",
}
"""The audit action of each change, by level: plain module dicts (no annotation), which
tests/gate/web/test_labels.py reads to prove every action has a label."""


def _audit(
    session: Session,
    community_id: int,
    place: Place,
    action: str,
    *,
    actor: str,
    details: dict[str, object],
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        community_id=community_id,
        subject_type=type(place).__tablename__.rstrip("s"),
        subject_id=place.name,
        details=details,
    )


def add_place(
    session: Session,
    community: Community,
    level: Level,
    *,
    name: str,
    parent: Area | Grid | Compound | None = None,
    actor: str,
) -> Place:
    """Add an area (no ``parent``), a grid (of an area), a compound (of a grid) or a building
    (of a compound) to ``community``. For a building ``name`` is its number as residents say
    it (``7``, ``7号楼``, ``七号楼``): stored as the import stores it (``7``), shown as
    ``7号楼``. A name already used among the siblings is refused (``place_name_taken``).
    Audited as ``site.<level>_add``.
    """

    expected = {"area": None, "grid": Area, "compound": Grid, "building": Compound}[level]
    if (parent is None) != (expected is None) or (
        expected is not None and not isinstance(parent, expected)
    ):
        raise HierarchyError("no_such_place")
    if parent is not None and community_of(parent) != community.id:
        raise HierarchyError("no_such_place")
    container: Community | Place = parent if parent is not None else community
    siblings = _siblings(session, level, container)
    taken = {row.code for row in siblings}
    if level == "building":
        code = normalise_place_name(name, "building")  # 七号楼, 7栋, 7: as the import stores it
        if not 1 <= len(code) <= CODE_LENGTH:
            raise HierarchyError("bad_building_number")
        label = building_name(code)
        if code in taken or any(row.name == label for row in siblings):
            raise HierarchyError("place_name_taken", name=label)
        row: Place = Building(compound=parent, code=code, name=label)
    else:
        label = _clean_name(name)
        if any(row.name == label for row in siblings):
            raise HierarchyError("place_name_taken", name=label)
        code = _free_code(label, taken, _CODE_PREFIX[level])
        if level == "area":
            row = Area(community=community, name=label, code=code)
        elif level == "grid":
            row = Grid(area=parent, name=label, code=code)
        else:
            row = Compound(grid=parent, name=label, code=code)
    session.add(row)
    session.flush()
    under = container.name
    _audit(session, community.id, row, ADD_ACTIONS[level], actor=actor, details={"under": under})
    return row


def rename_place(session: Session, place: Place, *, name: str, actor: str) -> None:
    """Give ``place`` a new display name (a building keeps its number). A name already used
    among its siblings is refused. Audited as ``site.<level>_rename`` with the old and new
    names."""
    level = next(level for level, model in _MODELS.items() if isinstance(place, model))
    label = _clean_name(name)
    if label == place.name:
        return
    parent: Community | Place
    if isinstance(place, Area):
        parent = place.community
    elif isinstance(place, Grid):
        parent = place.area
    elif isinstance(place, Compound):
        parent = place.grid
    else:
        parent = place.compound
    if any(row.name == label and row.id != place.id for row in _siblings(session, level, parent)):
        raise HierarchyError("place_name_taken", name=label)
    previous, place.name = place.name, label
    session.flush()
    _audit(
        session,
        community_of(place),
        place,
        RENAME_ACTIONS[level],
        actor=actor,
        details={"old_name": previous, "new_name": label},
    )


def merge_buildings(session: Session, keep: Building, merged: Building, *, actor: str) -> int:
    """Move every household of ``merged`` into ``keep`` and delete ``merged``: two rows that
    are the same building (``7号楼`` and ``7`` from two imports). Returns how many households
    moved. Both must be buildings of one community (``no_such_place`` otherwise) and
    different (``merge_needs_two``). Household codes, passes and crossings are unchanged, so
    every card keeps working. Audited as ``site.building_merge``.
    """
    if keep.id == merged.id:
        raise HierarchyError("merge_needs_two")
    community_id = community_of(keep)
    if community_of(merged) != community_id:
        raise HierarchyError("no_such_place")
    result = session.execute(
        update(Household)
        .where(Household.building_id == merged.id, Household.community_id == community_id)
        .values(building_id=keep.id)
        .execution_options(synchronize_session="fetch")
    )
    moved = int(getattr(result, "rowcount", 0) or 0)
    details: dict[str, object] = {
        "merged_building": f"{merged.name} ({merged.compound.name})",
        "kept_building": f"{keep.name} ({keep.compound.name})",
        "households": moved,
    }
    session.delete(merged)
    session.flush()
    _audit(session, community_id, keep, "site.building_merge", actor=actor, details=details)
    return moved
