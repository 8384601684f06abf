"""The database half of the household import: check a validated plan against the register, write it.

Contract:

- Households are matched on their code within the community. A row whose code is new creates
  a household with its head of household as a :class:`Member` (``is_head``); a row whose code
  exists updates the building, unit, room, contact phone and the head's name, phone and ID
  number when they differ, and is *unchanged* otherwise. Re-importing the same file therefore
  changes nothing (``0 created, 0 updated``).
- Areas, grids and buildings named in the file are created when missing: the first import is
  how a compound is set up. A blank area or grid means the community's only one (or a default
  "未分片区"/"未分网格" when there is none yet). New buildings go into the grid's compound (one
  named after the community is created if the grid has none). A building code that already
  exists under a *different* area or grid than the row names is an error
  (``building_conflict``), never a silent move; so is a code that several compounds use and
  the row does not disambiguate (``ambiguous_building``).
- Status and quarantine columns apply to *new* households only. For an existing household a
  different status in the file is not applied and is listed in
  :attr:`ImportResult.status_not_applied`: an old spreadsheet must never lift a quarantine, and
  status changes need a reason (``checkpoint households quarantine/exempt/normal``).
- A blank ID number never erases a stored one. ID numbers are stored with their
  ``id_number_hash``: HMAC-SHA256 under the server secret of the normalised number, hex.
- All or nothing: with any error (from validation or from these checks) nothing is written,
  unless ``skip_bad=True``, which writes every good row and skips the bad ones.
- :func:`plan_import` runs exactly the same code as :func:`apply_import` inside a SAVEPOINT
  that it rolls back, so a dry run reports what a real run would do.
- Audit: one ``household.create``/``household.update`` event per written household (field
  names only, no personal data) and one ``household.import`` summary event.
- Columns with no place in the schema yet (人数 ``members``, 备注 ``note``) are read and
  validated but not stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Building, Community
from gate.community.operations import (
    CommunityError,
    community_buildings,
    ensure_area,
    ensure_building,
    ensure_compound,
    ensure_grid,
)
from gate.households.models import Household, Member
from gate.households.operations import households_by_code, quarantine_end
from gate.households.validation import HouseholdRow, ImportPlan, RowError
from passes.state import HouseholdStatus

__all__ = ["ImportResult", "apply_import", "hash_id_number", "plan_import"]

_ID_LOW, _ID_HIGH = 10_000, 2**31  # random ids: a pass reveals neither order nor count
_FLUSH_EVERY = 200
IMPORT_STATUS_REASON = "导入时登记"


def hash_id_number(secret: str, id_number: str) -> str:
    """HMAC-SHA256 (hex) of a normalised ID number under the server ``secret``."""
    return hmac.new(secret.encode(), id_number.encode(), hashlib.sha256).hexdigest()


@dataclass
class ImportResult:
    """What an import did (or, from :func:`plan_import`, would do).

    ``errors`` holds the plan's validation errors and the database checks' errors, by row.
    ``written`` is False when errors stopped the import or for a dry run.
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    new_places: list[str] = field(default_factory=list)  # e.g. "楼栋 7 (第3网格)"
    status_not_applied: list[str] = field(default_factory=list)  # household codes
    written: bool = False

    @property
    def bad_rows(self) -> list[int]:
        """Row numbers with at least one error, ascending."""
        return sorted({e.row for e in self.errors})

    @property
    def skipped(self) -> int:
        """Rows not imported because they have errors."""
        return len(self.bad_rows)


def plan_import(
    session: Session, community: Community, plan: ImportPlan, *, id_secret: str
) -> ImportResult:
    """Check ``plan`` against the database and count what an import would do; writes nothing."""
    savepoint = session.begin_nested()
    try:
        result = _Importer(session, community, id_secret).run(plan)
    finally:
        savepoint.rollback()
    result.written = False
    return result


def apply_import(
    session: Session,
    community: Community,
    plan: ImportPlan,
    *,
    id_secret: str,
    actor: str,
    skip_bad: bool = False,
    source: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import ``plan`` all or nothing (or only its good rows with ``skip_bad``); flushes.

    ``on_progress(rows_done)`` is called every few hundred rows. ``source`` (a file name) is
    recorded in the audit event.
    """
    savepoint = session.begin_nested()
    try:
        importer = _Importer(session, community, id_secret, actor=actor, on_progress=on_progress)
        result = importer.run(plan)
        if result.errors and not skip_bad:
            savepoint.rollback()
            result.written = False
            return result
        record_event(
            session,
            actor=actor,
            action="household.import",
            community_id=community.id,
            subject_type="import",
            subject_id=source,
            details={
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "skipped_rows": result.bad_rows,
                "new_places": result.new_places,
            },
        )
        session.flush()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    savepoint.commit()
    result.written = True
    return result


class _RowProblem(Exception):
    def __init__(self, field_key: str, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field_key, self.code, self.zh, self.en = field_key, code, zh, en


_Action = Literal["create", "update", "unchanged"]


class _Importer:
    def __init__(
        self,
        session: Session,
        community: Community,
        id_secret: str,
        *,
        actor: str = "system",
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.session = session
        self.community = community
        self.id_secret = id_secret
        self.actor = actor
        self.on_progress = on_progress
        self.result = ImportResult()
        self.buildings: dict[str, list[Building]] = {}
        self.new_households: list[Household] = []

    def run(self, plan: ImportPlan) -> ImportResult:
        result = self.result
        result.errors.extend(plan.errors)
        for building in community_buildings(self.session, self.community):
            self.buildings.setdefault(building.code, []).append(building)
        existing = households_by_code(
            self.session, self.community, (r.household_code for r in plan.valid)
        )
        for done, row in enumerate(plan.valid, start=1):
            try:
                building = self._building_for(row)
            except _RowProblem as problem:
                result.errors.append(
                    RowError(
                        row.row,
                        problem.field_key,
                        problem.code,
                        f"楼栋：{problem.zh}" if problem.field_key == "building" else problem.zh,
                        problem.en,
                    )
                )
                continue
            action = self._write_row(row, building, existing.get(row.household_code))
            if action == "create":
                result.created += 1
            elif action == "update":
                result.updated += 1
            else:
                result.unchanged += 1
            if done % _FLUSH_EVERY == 0:
                self._flush_new()
                if self.on_progress is not None:
                    self.on_progress(done)
        self._flush_new()
        if self.on_progress is not None:
            self.on_progress(len(plan.valid))
        result.errors.sort(key=lambda e: e.row)
        return result

    # --- places ---------------------------------------------------------------------------

    def _building_for(self, row: HouseholdRow) -> Building:
        candidates = self.buildings.get(row.building, [])
        matching = [b for b in candidates if _place_matches(b, row)]
        if len(matching) == 1:
            return matching[0]
        if len(matching) > 1:
            raise _RowProblem(
                "building", "ambiguous_building",
                f"楼栋“{row.building}”在多个小区或网格中都有，请填写片区和网格以区分",
                f"building {row.building} exists in several grids; fill in area and grid",
            )  # fmt: skip
        if candidates:
            where = "、".join(_place_label(b) for b in candidates)
            raise _RowProblem(
                "building", "building_conflict",
                f"楼栋“{row.building}”已属于 {where}，与本行填写的片区/网格不符",
                f"building {row.building} belongs to {where}, not the area/grid on this row",
            )  # fmt: skip
        return self._create_building(row)

    def _create_building(self, row: HouseholdRow) -> Building:
        # A SAVEPOINT so that a row refused half-way leaves no area or grid behind.
        savepoint = self.session.begin_nested()
        try:
            area = ensure_area(self.session, self.community, row.area)
            grid = ensure_grid(self.session, area, row.grid)
            compound = ensure_compound(self.session, grid, self.community)
            building = ensure_building(self.session, compound, row.building)
        except CommunityError as exc:
            savepoint.rollback()
            raise _RowProblem(
                "building", "unknown_place",
                f"无法确定楼栋“{row.building}”所属的片区/网格：{exc}",
                f"cannot place building {row.building}: {exc}",
            ) from None  # fmt: skip
        savepoint.commit()
        self.buildings.setdefault(building.code, []).append(building)
        self.result.new_places.append(f"楼栋 {building.code} ({area.name}/{grid.name})")
        return building

    # --- households -----------------------------------------------------------------------

    def _write_row(
        self, row: HouseholdRow, building: Building, household: Household | None
    ) -> _Action:
        if household is None:
            self._create(row, building)
            return "create"
        changed = self._update(row, building, household)
        if household.status is not row.status or (
            row.quarantine_until is not None
            and household.quarantine_until
            != quarantine_end(row.quarantine_until, self.community.timezone)
        ):
            self.result.status_not_applied.append(household.code)
        if not changed:
            return "unchanged"
        record_event(
            self.session,
            actor=self.actor,
            action="household.update",
            community_id=self.community.id,
            subject_type="household",
            subject_id=household.code,
            details={"row": row.row, "fields": changed},
        )
        return "update"

    def _create(self, row: HouseholdRow, building: Building) -> None:
        zone = self.community.timezone
        until = None if row.quarantine_until is None else quarantine_end(row.quarantine_until, zone)
        household = Household(
            community_id=self.community.id,
            building=building,
            code=row.household_code,
            unit=row.unit,
            room=row.room,
            contact_phone=row.phone,
            status=row.status,
            quarantine_until=until,
            status_reason=None if row.status is HouseholdStatus.NORMAL else IMPORT_STATUS_REASON,
        )
        household.members.append(
            Member(
                name=row.head_name,
                phone=row.phone,
                id_number=row.id_number,
                id_number_hash=self._id_hash(row.id_number),
                is_head=True,
            )
        )
        self.new_households.append(household)
        record_event(
            self.session,
            actor=self.actor,
            action="household.create",
            community_id=self.community.id,
            subject_type="household",
            subject_id=row.household_code,
            details={"row": row.row, "status": row.status.value},
        )

    def _update(self, row: HouseholdRow, building: Building, household: Household) -> list[str]:
        changed: list[str] = []
        wanted: dict[str, object] = {
            "building_id": building.id,
            "unit": row.unit,
            "room": row.room,
            "contact_phone": row.phone,
        }
        for name, value in wanted.items():
            if getattr(household, name) != value:
                setattr(household, name, value)
                changed.append(name)
        head = next((m for m in household.members if m.is_head), None)
        if head is None:
            head = Member(name=row.head_name, phone=row.phone, is_head=True)
            household.members.append(head)
            changed.append("head")
        member_wanted: dict[str, object] = {"name": row.head_name, "phone": row.phone}
        if row.id_number is not None:
            member_wanted["id_number"] = row.id_number
            member_wanted["id_number_hash"] = self._id_hash(row.id_number)
        for name, value in member_wanted.items():
            if getattr(head, name) != value:
                setattr(head, name, value)
                changed.append(f"head.{name}")
        return changed

    def _id_hash(self, id_number: str | None) -> str | None:
        return None if id_number is None else hash_id_number(self.id_secret, id_number)

    def _flush_new(self) -> None:
        if self.new_households:
            _assign_ids(self.session, self.new_households)
            self.session.add_all(self.new_households)
            self.new_households = []
        self.session.flush()


def _assign_ids(session: Session, households: Iterable[Household]) -> None:
    """Give each household a random unused 31-bit id (ids travel inside passes)."""
    pending = list(households)
    taken: set[int] = set()
    while pending:
        candidates: dict[int, Household] = {}
        for household in pending:
            candidate = _ID_LOW + secrets.randbelow(_ID_HIGH - _ID_LOW)
            if candidate not in taken and candidate not in candidates:
                candidates[candidate] = household
        clashes = set(session.scalars(select(Household.id).where(Household.id.in_(candidates))))
        for candidate, household in candidates.items():
            if candidate not in clashes:
                household.id = candidate
                taken.add(candidate)
        pending = [h for h in pending if h.id is None]


def _place_matches(building: Building, row: HouseholdRow) -> bool:
    grid = building.compound.grid
    area = grid.area
    if row.area is not None and row.area not in (area.code, area.name):
        return False
    return row.grid is None or row.grid in (grid.code, grid.name)


def _place_label(building: Building) -> str:
    grid = building.compound.grid
    return f"{grid.area.name}/{grid.name}"
