"""The database half of the household import, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from factories import make_building, make_household
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.community.models import Area, Building, Community, Grid
from gate.households.id_numbers import IdKeys, open_id_number
from gate.households.importing import apply_import, hash_id_number, plan_import
from gate.households.models import Household, Member
from gate.households.operations import quarantine_end
from gate.households.validation import ImportPlan, id_check_digit, validate_rows
from passes import HouseholdStatus

ID_KEY = IdKeys(b"k" * 32, sealing=b"s" * 32)
TODAY = dt.date(2026, 11, 1)


def make_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


def row(code: str, **fields: str) -> dict[str, str]:
    values = {
        "household_code": code,
        "area": "一片区",
        "grid": "第1网格",
        "building": code.split("-", maxsplit=1)[0],
        "unit": "1",
        "room": code.rsplit("-", maxsplit=1)[-1],
        "head_name": "张三",
        "phone": "13800138000",
        "id_number": make_id("35052419900101123"),
    }
    values.update(fields)
    return values


def plan_of(*rows: dict[str, str]) -> ImportPlan:
    return validate_rows(((n, r) for n, r in enumerate(rows, start=2)), today=TODAY)


def households(session: Session, community: Community) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Household)
            .where(Household.community_id == community.id)
        )
        or 0
    )


def run(session: Session, community: Community, plan: ImportPlan, **kwargs: Any) -> Any:
    return apply_import(session, community, plan, id_key=ID_KEY, actor="clerk", **kwargs)


def test_first_import_creates_households_heads_and_the_hierarchy(
    db_session: Session, community: Community
) -> None:
    result = run(db_session, community, plan_of(row("3-1-401"), row("3-1-402"), row("5-1-101")))

    assert (result.created, result.updated, result.unchanged, result.written) == (3, 0, 0, True)
    household = db_session.scalar(select(Household).where(Household.code == "3-1-401"))
    assert household is not None
    assert 10_000 <= household.id < 2**31
    assert household.building.code == "3"
    assert household.building.name == "3号楼"
    assert household.building.compound.grid.name == "第1网格"
    assert household.building.compound.grid.area.name == "一片区"
    [head] = household.members
    assert head.is_head
    assert head.name == "张三"
    assert head.phone == "13800138000"
    assert head.id_number_hash == hash_id_number(ID_KEY, make_id("35052419900101123"))
    assert len(head.id_number_hash or "") == 64
    assert db_session.scalar(select(func.count()).select_from(Area)) == 1
    assert len(result.new_places) == 5  # area, grid, compound, two buildings


def test_reimporting_the_same_rows_changes_nothing(
    db_session: Session, community: Community
) -> None:
    rows = [row(f"3-1-{n}") for n in range(101, 111)]
    run(db_session, community, plan_of(*rows))
    before = db_session.scalar(select(func.count()).select_from(AuditEvent))

    again = run(db_session, community, plan_of(*rows))

    assert (again.created, again.updated, again.unchanged) == (0, 0, 10)
    assert households(db_session, community) == 10
    created_events = db_session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "household.import")
    )
    assert created_events == before - 1  # only the summary event was added


def test_a_changed_phone_is_an_update_with_an_audit_event_naming_fields_only(
    db_session: Session, community: Community
) -> None:
    run(db_session, community, plan_of(row("3-1-401")))

    result = run(db_session, community, plan_of(row("3-1-401", phone="13900139000")))

    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    household = db_session.scalar(select(Household).where(Household.code == "3-1-401"))
    assert household is not None
    assert household.contact_phone == "13900139000"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "household.update"))
    assert event is not None
    assert event.actor == "clerk"
    details = json.loads(event.details_json)
    assert set(details["fields"]) == {"contact_phone", "head.phone"}
    assert "13900139000" not in event.details_json


def test_any_bad_row_writes_nothing(db_session: Session, community: Community) -> None:
    plan = plan_of(row("3-1-401"), row("3-1-402", phone="12345"), row("3-1-403"))

    result = run(db_session, community, plan)

    assert not result.written
    assert result.bad_rows == [3]
    assert households(db_session, community) == 0
    assert db_session.scalar(select(func.count()).select_from(Building)) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_skip_bad_writes_the_good_rows(db_session: Session, community: Community) -> None:
    plan = plan_of(row("3-1-401"), row("3-1-402", phone="12345"), row("3-1-403"))

    result = run(db_session, community, plan, skip_bad=True)

    assert result.written
    assert result.created == 2
    assert result.bad_rows == [3]
    assert households(db_session, community) == 2


def test_plan_import_counts_but_writes_nothing(db_session: Session, community: Community) -> None:
    run(db_session, community, plan_of(row("3-1-401")))

    result = plan_import(
        db_session, community, plan_of(row("3-1-401"), row("3-1-402")), id_key=ID_KEY
    )

    assert (result.created, result.unchanged, result.written) == (1, 1, False)
    assert households(db_session, community) == 1


def test_a_building_under_another_grid_is_a_conflict(
    db_session: Session, community: Community
) -> None:
    existing = make_building(db_session, community, code="7")

    result = run(db_session, community, plan_of(row("7-1-101", grid="第9网格")))

    assert not result.written
    [error] = result.errors
    assert (error.row, error.field, error.code) == (2, "building", "building_conflict")
    assert existing.compound.grid.name in str(error.params["places"])
    assert existing.compound.grid.name in error.message
    assert db_session.scalar(select(func.count()).select_from(Grid)) == 1


def test_blank_area_and_grid_use_the_existing_building(
    db_session: Session, community: Community
) -> None:
    existing = make_building(db_session, community, code="7")

    result = run(db_session, community, plan_of(row("7-1-101", area="", grid="")))

    assert result.created == 1
    household = db_session.scalar(select(Household).where(Household.code == "7-1-101"))
    assert household is not None
    assert household.building_id == existing.id


def test_status_applies_to_new_households_only(db_session: Session, community: Community) -> None:
    quarantined = row("3-1-401", status="居家隔离", quarantine_until="2026-11-30")
    run(db_session, community, plan_of(quarantined))
    household = db_session.scalar(select(Household).where(Household.code == "3-1-401"))
    assert household is not None
    assert household.status is HouseholdStatus.QUARANTINED
    assert household.quarantine_until == quarantine_end(dt.date(2026, 11, 30), community.timezone)

    result = run(db_session, community, plan_of(row("3-1-401", status="正常")))

    assert result.status_not_applied == ["3-1-401"]
    assert (result.updated, result.unchanged) == (0, 1)
    db_session.refresh(household)
    assert household.status is HouseholdStatus.QUARANTINED


def test_a_blank_id_number_keeps_the_stored_one(db_session: Session, community: Community) -> None:
    run(db_session, community, plan_of(row("3-1-401")))

    result = run(db_session, community, plan_of(row("3-1-401", id_number="")))

    assert result.unchanged == 1
    head = db_session.scalar(select(Member).where(Member.is_head))
    assert head is not None
    assert head.id_number is not None
    assert open_id_number(ID_KEY, head.id_number) == make_id("35052419900101123")


def test_existing_households_made_elsewhere_are_matched_by_code(
    db_session: Session, community: Community
) -> None:
    building = make_building(db_session, community, code="9")
    made = make_household(db_session, community=community, building=building, code="9-1-1")

    result = run(db_session, community, plan_of(row("9-1-1", area="", grid="", unit="1", room="1")))

    assert (result.created, result.updated) == (0, 1)
    db_session.refresh(made)
    assert made.members[0].name == "张三"


def test_the_summary_event_names_the_source_file(db_session: Session, community: Community) -> None:
    run(db_session, community, plan_of(row("3-1-401")), source="住户.xlsx")

    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "household.import"))
    assert event is not None
    assert event.subject_id == "住户.xlsx"
    assert json.loads(event.details_json)["created"] == 1
