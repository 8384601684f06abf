"""The database half of the household import: check a validated plan against the register, write it.

Contract:

- Households are matched on their code within the community. A row whose code is new creates
  a household with its head of household as a :class:`Member` (``is_head``); a row whose code
  exists updates the building, unit, room, contact phone and the head's name, phone and ID
  number when they differ, and is *unchanged* otherwise. Re-importing the same file therefore
  changes nothing (``0 created, 0 updated``).
- Areas, grids, compounds and buildings named in the file are created when missing: the
  first import is how a compound is set up. Where a building goes is
  :class:`gate.households.placing.PlaceFinder`'s contract (an empty area or grid with
  several of them means the unassigned bucket 未分片区/未分网格; a grid with several
  compounds needs the 小区 column). A building code that already exists under a *different*
  area or grid than the row names is an error (``building_conflict``), never a silent move,
  unless the row names a compound (then it is that compound's own building); so is a code
  that several places use and the row does not disambiguate (``ambiguous_building``).
- Members: the head's row updates the head (``is_head``, relation ``head``); each other
  member row is matched to a stored member by ID number, else by name, and updated or
  added. An import never removes a member. Member rows whose head is not in the file are
  added to the registered household (``no_head`` when there is none).
- 人数 (``head_count``) and 备注 (``note``) are stored; an empty cell keeps the stored value
  (a new household without 人数 counts the people listed).
- Status and quarantine columns apply to *new* households only. For an existing household a
  different status in the file is not applied and is listed in
  :attr:`ImportResult.status_not_applied`: an old spreadsheet must never lift a quarantine, and
  status changes need a reason (``checkpoint households quarantine/exempt/normal``).
- A blank ID number never erases a stored one. ID numbers are stored with their
  ``id_number_hash`` under the ID-hash key (:mod:`gate.households.id_numbers`).
- All or nothing: with any error (from validation or from these checks) nothing is written,
  unless ``skip_bad=True``, which writes every good row and skips the bad ones.
- :func:`plan_import` runs the same importer as :func:`apply_import` in planning mode: it
  only reads (so it runs in a read-only unit of work and never takes SQLite's write lock),
  counting what would change and planning the places a real run would create with the
  same rules, so a dry run reports what a real run would do.
- The head of household is :func:`gate.households.operations.head_of` (the ``is_head``
  member, else the first one); an import marks it ``is_head`` when it was not.
- Audit: one ``household.create``/``household.update`` event per written household (field
  names only, no personal data) and one ``household.import`` summary event.
- Errors found here are :class:`RowError` codes with English message ids (``N_``) and
  parameters, like validation's: ``ambiguous_building``, ``building_conflict``, ``no_head``
  and ``unknown_place`` (the place finder's message). A place error lands on every row of
  the household.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Building, Community
from gate.errors import CodedError
from gate.households.id_numbers import hash_id_number, seal_id_number
from gate.households.models import Household, Member
from gate.households.operations import head_of, households_by_code, quarantine_end
from gate.households.placing import Place, PlaceFinder, PlaceProblem
from gate.households.relations import Relation
from gate.households.spreadsheet import N_
from gate.households.status_history import record_status_change
from gate.households.validation import (
    HouseholdRow,
    ImportPlan,
    PersonRow,
    RowError,
    validate_rows,
)
from passes.state import HouseholdStatus

__all__ = [
    "ImportResult",
    "SavedHousehold",
    "apply_import",
    "hash_id_number",
    "plan_import",
    "save_household",
]

_ID_LOW, _ID_HIGH = 10_000, 2**31  # random ids: a pass reveals neither order nor count
_FLUSH_EVERY = 200

PlateHook = Callable[[Session, Household, tuple[str, ...]], object]
"""Registers a household's 车牌号 plates as its cars (the caller passes
:func:`gate.vehicles.registry.add_household_plates`'s adapter: households cannot import
vehicles); raises a :class:`~gate.errors.CodedError` to refuse the row."""
IMPORT_STATUS_REASON = "导入时登记"


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
    session: Session, community: Community, plan: ImportPlan, *, id_key: bytes
) -> ImportResult:
    """Check ``plan`` against the database and count what an import would do.

    Only reads: safe in a read-only unit of work (no write lock on SQLite).
    """
    result = _Importer(session, community, id_key, planning=True).run(plan)
    result.written = False
    return result


def apply_import(
    session: Session,
    community: Community,
    plan: ImportPlan,
    *,
    id_key: bytes,
    actor: str,
    skip_bad: bool = False,
    source: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_plates: PlateHook | None = None,
) -> ImportResult:
    """Import ``plan`` all or nothing (or only its good rows with ``skip_bad``); flushes.

    ``on_plates(session, household, plates)`` registers the 车牌号 column's plates of each
    imported household (a refusal is an error on its head's row).

    ``on_progress(rows_done)`` is called every few hundred rows. ``source`` (a file name) is
    recorded in the audit event.
    """
    savepoint = session.begin_nested()
    try:
        importer = _Importer(session, community, id_key, actor=actor, on_progress=on_progress)
        importer.on_plates = on_plates
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


IMPORT_MESSAGES = {
    "ambiguous_building": N_(
        "Building %(building)s exists in several places: fill in the area, grid or compound "
        "(小区) to tell them apart."
    ),
    "building_conflict": N_(
        "Building %(building)s belongs to %(places)s, not to the area or grid on this row."
    ),
    "no_head": N_(
        "Household %(code)s is not registered and its head (户主) is not in this file: add "
        "the head's row."
    ),
}
"""English message ids of the database checks (``unknown_place``: the place finder's)."""


class _RowProblem(Exception):
    """A row the database checks refuse: becomes a :class:`RowError` on its row."""

    def __init__(
        self, field_key: str, code: str, message_id: str, params: dict[str, str | int]
    ) -> None:
        super().__init__(message_id % params if params else message_id)
        self.field_key, self.code = field_key, code
        self.message_id, self.params = message_id, params


_Action = Literal["create", "update", "unchanged"]


class _Importer:
    def __init__(
        self,
        session: Session,
        community: Community,
        id_key: bytes,
        *,
        planning: bool = False,
        actor: str = "system",
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.session = session
        self.community = community
        self.id_key = id_key
        self.planning = planning
        self.actor = actor
        self.on_progress = on_progress
        self.result = ImportResult()
        self.places = PlaceFinder(session, community, planning=planning)
        self.new_households: list[Household] = []
        self.on_plates: PlateHook | None = None

    def run(self, plan: ImportPlan) -> ImportResult:
        result = self.result
        result.errors.extend(plan.errors)
        codes = [r.household_code for r in plan.valid]
        codes += [p.household_code for p in plan.extra_members]
        existing = households_by_code(self.session, self.community, codes)
        for done, row in enumerate(plan.valid, start=1):
            try:
                place = self._building_for(row)
            except _RowProblem as problem:
                for number in row.rows:
                    result.errors.append(
                        RowError(
                            number, problem.field_key, problem.code, problem.message_id,
                            problem.params,
                        )
                    )  # fmt: skip
                continue
            self._count(self._write_row(row, place, existing.get(row.household_code)))
            if done % _FLUSH_EVERY == 0:
                self._flush_new()
                if self.on_progress is not None:
                    self.on_progress(done)
        self._extra_members(plan.extra_members, existing)
        self._flush_new()
        self._register_plates(plan.valid)
        if self.on_progress is not None:
            self.on_progress(len(plan.valid))
        result.new_places = self.places.new_places
        result.errors.sort(key=lambda e: e.row)
        return result

    def _register_plates(self, rows: list[HouseholdRow]) -> None:
        """Hand each written household's plates to ``on_plates`` (not when planning)."""
        with_plates = [row for row in rows if row.plates]
        if self.planning or self.on_plates is None or not with_plates:
            return
        bad = {error.row for error in self.result.errors}
        found = households_by_code(
            self.session, self.community, [row.household_code for row in with_plates]
        )
        for row in with_plates:
            household = found.get(row.household_code)
            if household is None or row.row in bad:
                continue
            try:
                self.on_plates(self.session, household, row.plates)
            except CodedError as exc:
                self.result.errors.append(
                    RowError(row.row, "plates", exc.code, exc.message_id, dict(exc.params))
                )

    def _count(self, action: _Action) -> None:
        if action == "create":
            self.result.created += 1
        elif action == "update":
            self.result.updated += 1
        else:
            self.result.unchanged += 1

    # --- places ---------------------------------------------------------------------------

    def _building_for(self, row: HouseholdRow) -> Place:
        candidates = self.places.known(row.building)
        matching = [p for p in candidates if p.matches(row.area, row.grid, row.compound)]
        if len(matching) == 1:
            return matching[0]
        if len(matching) > 1:
            raise _RowProblem(
                "building", "ambiguous_building", IMPORT_MESSAGES["ambiguous_building"],
                {"building": row.building},
            )  # fmt: skip
        if candidates and row.compound is None:
            where = "、".join(place.label for place in candidates)
            raise _RowProblem(
                "building", "building_conflict", IMPORT_MESSAGES["building_conflict"],
                {"building": row.building, "places": where},
            )  # fmt: skip
        try:
            return self.places.add_building(row.building, row.area, row.grid, row.compound)
        except PlaceProblem as exc:
            field_key = "compound" if exc.code == "name_the_compound" else "building"
            raise _RowProblem(field_key, "unknown_place", exc.message_id, exc.params) from None

    # --- households -----------------------------------------------------------------------

    def _write_row(self, row: HouseholdRow, place: Place, household: Household | None) -> _Action:
        if household is None:
            if place.building is not None and not self.planning:
                self._create(row, place.building)
            return "create"
        changed = self._update(row, place, household)
        if household.status is not row.status or (
            row.quarantine_until is not None
            and household.quarantine_until
            != quarantine_end(row.quarantine_until, self.community.timezone)
        ):
            self.result.status_not_applied.append(household.code)
        return self._audit_update(household, changed, row.row)

    def _audit_update(self, household: Household, changed: list[str], row: int) -> _Action:
        if not changed:
            return "unchanged"
        if not self.planning:
            record_event(
                self.session,
                actor=self.actor,
                action="household.update",
                community_id=self.community.id,
                subject_type="household",
                subject_id=household.code,
                details={"row": row, "fields": sorted(set(changed))},
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
            head_count=row.members or 1 + len(row.others),
            note=row.note,
            status=row.status,
            quarantine_until=until,
            status_reason=None if row.status is HouseholdStatus.NORMAL else IMPORT_STATUS_REASON,
        )
        household.members.append(
            Member(
                name=row.head_name,
                phone=row.head_phone or row.phone,
                id_number=seal_id_number(self.id_key, row.id_number),
                id_number_hash=self._id_hash(row.id_number),
                is_head=True,
                relation=Relation.HEAD,
            )
        )
        for person in row.others:
            household.members.append(self._new_member(person))
        self.new_households.append(household)
        record_event(
            self.session,
            actor=self.actor,
            action="household.create",
            community_id=self.community.id,
            subject_type="household",
            subject_id=row.household_code,
            details={"row": row.row, "status": row.status.value, "members": 1 + len(row.others)},
        )

    def _new_member(self, person: PersonRow) -> Member:
        return Member(
            name=person.name,
            phone=person.phone,
            id_number=seal_id_number(self.id_key, person.id_number),
            id_number_hash=self._id_hash(person.id_number),
            is_head=False,
            relation=person.relation,
        )

    def _update(self, row: HouseholdRow, place: Place, household: Household) -> list[str]:
        """The changed field names; applied to the rows unless planning."""
        wanted: dict[str, object] = {
            "building_id": place.building_id,
            "unit": row.unit,
            "room": row.room,
            "contact_phone": row.phone,
        }
        if row.members is not None:  # an empty 人数 keeps the stored one
            wanted["head_count"] = max(row.members, 1)
        if row.note is not None:  # an empty 备注 keeps the stored one
            wanted["note"] = row.note
        changed = self._assign(household, wanted, prefix="")
        head = head_of(household)
        if head is None or not head.is_head:
            changed.append("head")
            if not self.planning:
                if head is None:
                    head = Member(name=row.head_name, phone=row.phone, is_head=True)
                    household.members.append(head)
                head.is_head = True
        if head is not None:  # None only when planning: the head a real run would add
            member_wanted: dict[str, object] = {
                "name": row.head_name,
                "phone": row.head_phone or row.phone,
                "relation": Relation.HEAD,
            }
            if row.id_number is not None:  # sealed with a fresh nonce: compared through the hash
                member_wanted["id_number_hash"] = self._id_hash(row.id_number)
            changed_head = self._assign(head, member_wanted, prefix="head.")
            if "head.id_number_hash" in changed_head and not self.planning:
                head.id_number = seal_id_number(self.id_key, row.id_number)
            changed += changed_head
        for person in row.others:
            changed += self._merge_member(household, person, head)
        return changed

    def _merge_member(
        self, household: Household, person: PersonRow, head: Member | None
    ) -> list[str]:
        """Add or update one listed member (matched by ID number, else by name); an import
        never removes a member. The changed field names."""
        id_hash = self._id_hash(person.id_number)
        others = [m for m in household.members if m is not head and not m.is_head]
        match = next((m for m in others if id_hash and m.id_number_hash == id_hash), None)
        if match is None:
            match = next(
                (m for m in others if m.name == person.name and
                 (id_hash is None or m.id_number_hash is None)),
                None,
            )  # fmt: skip
        if match is None:
            if not self.planning:
                household.members.append(self._new_member(person))
            return ["members.added"]
        wanted: dict[str, object] = {"name": person.name, "relation": person.relation}
        if person.phone is not None:
            wanted["phone"] = person.phone
        if id_hash is not None:
            wanted["id_number_hash"] = id_hash
        changed = self._assign(match, wanted, prefix="members.")
        if "members.id_number_hash" in changed and not self.planning:
            match.id_number = seal_id_number(self.id_key, person.id_number)
        return changed

    def _extra_members(self, people: list[PersonRow], existing: dict[str, Household]) -> None:
        """Members whose head is not in the file: added to their registered household."""
        by_household: dict[str, list[PersonRow]] = {}
        for person in people:
            if person.household_code in existing:
                by_household.setdefault(person.household_code, []).append(person)
            else:
                self.result.errors.append(
                    RowError(
                        person.row, "household_code", "no_head", IMPORT_MESSAGES["no_head"],
                        {"code": person.household_code},
                    )
                )  # fmt: skip
        for code, listed in by_household.items():
            household = existing[code]
            head = head_of(household)
            changed: list[str] = []
            for person in listed:
                changed += self._merge_member(household, person, head)
            self._count(self._audit_update(household, changed, listed[0].row))

    def _assign(self, target: object, wanted: dict[str, object], *, prefix: str) -> list[str]:
        changed = []
        for name, value in wanted.items():
            if getattr(target, name) != value:
                if not self.planning:
                    setattr(target, name, value)
                changed.append(f"{prefix}{name}")
        return changed

    def _id_hash(self, id_number: str | None) -> str | None:
        return None if id_number is None else hash_id_number(self.id_key, id_number)

    def _flush_new(self) -> None:
        if self.planning:
            return
        if self.new_households:
            _assign_ids(self.session, self.new_households)
            self.session.add_all(self.new_households)
            self.session.flush()  # the households first: their history rows point at them
            for household in self.new_households:
                record_status_change(self.session, household)
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


@dataclass(frozen=True)
class SavedHousehold:
    """The outcome of :func:`save_household`: the saved code, or why nothing was saved."""

    code: str | None
    errors: list[RowError] = field(default_factory=list)
    code_taken: bool = False


def save_household(
    session: Session,
    community: Community,
    raw: dict[str, str],
    *,
    creating: bool,
    today: dt.date,
    id_key: bytes,
    actor: str,
) -> SavedHousehold:
    """Create or update one household from the office's form, validated exactly like one
    import row (the sheet's column keys); flushes. Creating a code that exists is
    ``code_taken``; audited like an import (source ``form:<code>``)."""
    plan = validate_rows([(1, raw)], today=today)
    if not plan.errors and creating:
        code = plan.valid[0].household_code
        if households_by_code(session, community, [code]):
            return SavedHousehold(None, code_taken=True)
    result = apply_import(
        session,
        community,
        plan,
        id_key=id_key,
        actor=actor,
        source=f"form:{raw.get('household_code', '')}"[:64],
    )
    if not result.written:
        return SavedHousehold(None, result.errors)
    return SavedHousehold(plan.valid[0].household_code)
