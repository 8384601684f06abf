"""Migration 0006 on existing data: one spelling per building, merged duplicates, head counts."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gate.db import make_engine
from gate.migrations import upgrade

NOW = dt.datetime(2026, 12, 1, 8, 0)


def _seed(connection: sa.Connection) -> None:
    def insert(table: str, **values: object) -> None:
        columns = ", ".join(values)
        marks = ", ".join(f":{key}" for key in values)
        connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)

    insert("communities", id=1, name="幸福社区", code="xf", created_at=NOW)
    insert("areas", id=1, community_id=1, name="一片区", code="A1")
    insert("grids", id=1, area_id=1, name="第1网格", code="G1")
    for compound in (1, 2):
        insert("compounds", id=compound, grid_id=1, name=f"小区{compound}", code=f"C{compound}")
    buildings = [
        (1, 1, "7号楼", "7号楼"),  # the oldest of the three building-7 spellings: survives
        (2, 1, "7", "7号楼"),
        (3, 1, "七栋", "七栋"),
        (4, 1, "A座", "A座"),
        (5, 1, "８", "东八楼"),  # a name the office chose is kept
        (6, 2, "7栋", "7栋"),  # another compound's building 7: not merged
    ]
    for building_id, compound, code, name in buildings:
        insert("buildings", id=building_id, compound_id=compound, code=code, name=name)
    households = [
        (10_001, 1, "7-1-401", "1单元", "401室"),
        (10_002, 2, "7-1-402", "一单元", "402"),
        (10_003, 3, "7-2-101", "2", "１０１"),
        (10_004, 4, "A-101", None, "101"),
        (10_005, 5, "8-101", None, "101"),
        (10_006, 6, "C2-7-101", None, "101"),
    ]
    for household_id, building_id, code, unit, room in households:
        insert(
            "households", id=household_id, community_id=1, building_id=building_id, code=code,
            unit=unit, room=room, status="normal", generation=1, out_count=0, state_json="{}",
            created_at=NOW, updated_at=NOW,
        )  # fmt: skip
    for member_id, household_id, name, is_head in [
        (1, 10_001, "张三", True), (2, 10_001, "王芳", False), (3, 10_001, "张小明", False),
        (4, 10_002, "李四", True),
    ]:  # fmt: skip
        insert("members", id=member_id, household_id=household_id, name=name, is_head=is_head)


def test_upgrade_normalises_and_merges_buildings_and_fills_head_counts(fresh_db_url: str) -> None:
    upgrade(fresh_db_url, "0005_district_access")
    engine = make_engine(fresh_db_url)
    try:
        with engine.begin() as connection:
            _seed(connection)
        upgrade(fresh_db_url)
        with engine.connect() as connection:
            buildings = connection.execute(
                sa.text("SELECT id, compound_id, code, name FROM buildings ORDER BY id")
            ).all()
            households = dict(
                connection.execute(
                    sa.text("SELECT code, building_id || '|' || COALESCE(unit, '') || '|' || "
                            "room || '|' || head_count FROM households")
                ).all()
            )  # fmt: skip
            relations = connection.execute(
                sa.text("SELECT name, relation FROM members ORDER BY id")
            ).all()
    finally:
        engine.dispose()

    assert [tuple(row) for row in buildings] == [
        (1, 1, "7", "7号楼"),
        (4, 1, "A座", "A座"),
        (5, 1, "8", "东八楼"),
        (6, 2, "7", "7号楼"),
    ]
    assert households == {
        "7-1-401": "1|1|401|3",
        "7-1-402": "1|1|402|1",
        "7-2-101": "1|2|101|1",
        "A-101": "4||101|1",
        "8-101": "5||101|1",
        "C2-7-101": "6||101|1",
    }
    assert [tuple(row) for row in relations] == [
        ("张三", "head"), ("王芳", None), ("张小明", None), ("李四", "head"),
    ]  # fmt: skip
