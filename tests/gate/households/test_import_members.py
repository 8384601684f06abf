"""Members, head counts, notes, compounds and spellings in the import, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.community.models import Area, Building, Community, Compound, Grid
from gate.households.id_numbers import IdKeys, open_id_number
from gate.households.importing import apply_import, plan_import
from gate.households.models import Household
from gate.households.operations import select_households
from gate.households.relations import Relation
from gate.households.validation import ImportPlan, id_check_digit, validate_rows

ID_KEY = IdKeys(b"k" * 32, sealing=b"s" * 32)
TODAY = dt.date(2026, 11, 1)
SPOUSE_ID = "11010519491231002" + id_check_digit("11010519491231002")


def person(code: str, name: str, **fields: str) -> dict[str, str]:
    return {"household_code": code, "head_name": name, **fields}


def head(code: str, name: str = "张三", **fields: str) -> dict[str, str]:
    building, unit, room = code.split("-")[-3:]
    values = {"building": building, "unit": unit, "room": room, "phone": "13800138000"}
    return person(code, name, **(values | fields))


def plan_of(*rows: dict[str, str]) -> ImportPlan:
    return validate_rows(((n, r) for n, r in enumerate(rows, start=2)), today=TODAY)


def run(session: Session, community: Community, plan: ImportPlan, **kwargs: Any) -> Any:
    return apply_import(session, community, plan, id_key=ID_KEY, actor="clerk", **kwargs)


def household(session: Session, code: str) -> Household:
    found = session.scalar(select(Household).where(Household.code == code))
    assert found is not None
    return found


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_members_head_count_note_and_compound_are_stored(
    db_session: Session, community: Community
) -> None:
    plan = plan_of(
        head("3-2-401", relation="户主", compound="幸福小区", members="4", note="独居老人"),
        person("3-2-401", "王芳", relation="妻子", phone="139 0013 9000", id_number=SPOUSE_ID),
        person("3-2-401", "张小明", relation="子女", note="在外地读书"),
    )
    assert plan.errors == []

    result = run(db_session, community, plan)

    assert (result.created, result.written) == (1, True)
    stored = household(db_session, "3-2-401")
    assert stored.head_count == 4
    assert stored.note == "独居老人；在外地读书"
    assert stored.building.compound.name == "幸福小区"
    members = {m.name: m for m in stored.members}
    assert set(members) == {"张三", "王芳", "张小明"}
    assert members["张三"].is_head
    assert members["张三"].relation is Relation.HEAD
    spouse = members["王芳"]
    assert (spouse.is_head, spouse.relation, spouse.phone) == (
        False,
        Relation.SPOUSE,
        "13900139000",
    )
    assert spouse.id_number is not None
    assert SPOUSE_ID not in spouse.id_number
    assert open_id_number(ID_KEY, spouse.id_number) == SPOUSE_ID
    assert members["张小明"].relation is Relation.CHILD


def test_a_head_count_below_the_people_listed_is_refused() -> None:
    plan = plan_of(head("3-2-401", members="1"), person("3-2-401", "王芳", relation="配偶"))

    assert [(e.row, e.field, e.code) for e in plan.errors] == [
        (2, "members", "fewer_members"),
        (3, "household_code", "head_row_bad"),
    ]


def test_reimporting_with_other_spellings_changes_nothing(
    db_session: Session, community: Community
) -> None:
    first = [
        head("7-2-401", members="3"),
        person("7-2-401", "王芳", relation="配偶", id_number=SPOUSE_ID),
        head("10-1-1101", "李四"),
        head("23-3-202", "赵六", unit="3"),
    ]
    run(db_session, community, plan_of(*first))
    buildings = count(db_session, Building)

    respelled = [
        head("7-2-401", building="七号楼", unit="二单元", room="401室", members="3"),
        person("7-2-401", "王芳", relation="配偶", building="7栋", id_number=SPOUSE_ID.lower()),
        head("10-1-1101", "李四", building=" 十号楼 ", unit="1单元", room="１１０１"),
        head("23-3-202", "赵六", building="二十三幢", unit="第3单元", room="202号"),
    ]
    dry = plan_import(db_session, community, plan_of(*respelled), id_key=ID_KEY)
    again = run(db_session, community, plan_of(*respelled))

    assert (dry.created, dry.updated, dry.unchanged, dry.errors) == (0, 0, 3, [])
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 3, [])
    assert count(db_session, Building) == buildings == 3
    assert len(household(db_session, "7-2-401").members) == 2


def test_member_rows_alone_add_to_a_registered_household(
    db_session: Session, community: Community
) -> None:
    run(db_session, community, plan_of(head("3-2-401")))

    result = run(
        db_session,
        community,
        plan_of(
            person("3-2-401", "张小红", relation="女儿"), person("9-9-9", "某人", relation="子女")
        ),
        skip_bad=True,
    )

    assert (result.updated, result.written) == (1, True)
    assert [(e.row, e.code) for e in result.errors] == [(3, "no_head")]
    names = sorted(m.name for m in household(db_session, "3-2-401").members)
    assert names == ["张三", "张小红"]


def test_empty_area_and_grid_go_to_the_unassigned_bucket_when_there_are_several(
    db_session: Session, community: Community
) -> None:
    run(
        db_session,
        community,
        plan_of(head("1-1-101", area="一片区", grid="第1网格"), head("2-1-101", area="二片区")),
    )

    result = run(db_session, community, plan_of(head("5-1-101")))

    assert (result.created, result.errors) == (1, [])
    place = household(db_session, "5-1-101").building.compound.grid
    assert (place.area.name, place.name) == ("未分片区", "未分网格")
    assert any("未分片区" in text for text in result.new_places)
    assert count(db_session, Area) == 3


def test_the_compound_column_tells_two_buildings_of_one_number_apart(
    db_session: Session, community: Community
) -> None:
    run(
        db_session,
        community,
        plan_of(head("A-1-1-101", building="1", compound="东苑"), head("B-1-1-101", building="1",
                compound="西苑")),
    )  # fmt: skip
    assert count(db_session, Compound) == 2
    assert count(db_session, Grid) == 1

    ambiguous = run(db_session, community, plan_of(head("C-1-1-102", building="1")))
    named = run(db_session, community, plan_of(head("C-1-1-102", building="1", compound="西苑")))

    assert [(e.field, e.code) for e in ambiguous.errors] == [("building", "ambiguous_building")]
    assert named.created == 1
    assert household(db_session, "C-1-1-102").building.compound.name == "西苑"


def test_a_building_is_selected_by_any_spelling_of_its_number(
    db_session: Session, community: Community
) -> None:
    run(db_session, community, plan_of(head("7-1-101"), head("7-1-102", building="七栋")))

    for spelling in ("7", "7号楼", "七号楼", "７栋"):
        found = select_households(db_session, community, building=spelling)
        assert [h.code for h in found] == ["7-1-101", "7-1-102"]
