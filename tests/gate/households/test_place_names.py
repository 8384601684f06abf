"""Building, unit and room spellings: one table of what must read as the same place."""

from __future__ import annotations

import pytest

from gate.households.place_names import chinese_number, normalise_place_name
from gate.households.validation import validate_rows

SPELLINGS: list[tuple[str, str, str]] = [
    # (kind, as typed, stored)
    ("building", "7", "7"),
    ("building", "7号楼", "7"),
    ("building", "7栋", "7"),
    ("building", "七号楼", "7"),
    ("building", "7幢", "7"),
    ("building", "7 号楼", "7"),
    ("building", "７", "7"),
    ("building", "７号楼", "7"),
    ("building", " 7 ", "7"),
    ("building", "\u30007\u3000", "7"),
    ("building", "07", "7"),
    ("building", "第七栋", "7"),
    ("building", "7#楼", "7"),
    ("building", "7#", "7"),
    ("building", "7座", "7"),
    ("building", "7号", "7"),
    ("building", "十", "10"),
    ("building", "十号楼", "10"),
    ("building", "十一栋", "11"),
    ("building", "二十三号楼", "23"),
    ("building", "九十九", "99"),
    ("building", "一百零五号楼", "105"),
    ("building", "A座", "A座"),
    ("building", "a座", "A座"),
    ("building", " 商铺 ", "商铺"),
    ("building", "商铺", "商铺"),
    ("building", "综合楼", "综合楼"),
    ("building", "号楼", "号楼"),
    ("unit", "2", "2"),
    ("unit", "2单元", "2"),
    ("unit", "二单元", "2"),
    ("unit", "第二单元", "2"),
    ("unit", "２ 单元", "2"),
    ("unit", "东单元", "东单元"),
    ("room", "401", "401"),
    ("room", "401室", "401"),
    ("room", "４０１", "401"),
    ("room", "四零一", "401"),
    ("room", "401号", "401"),
    ("room", "B101", "B101"),
    ("room", "1-401", "1-401"),
]


@pytest.mark.parametrize(("kind", "typed", "stored"), SPELLINGS)
def test_each_spelling_is_stored_as_one_name(kind: str, typed: str, stored: str) -> None:
    assert normalise_place_name(typed, kind) == stored  # type: ignore[arg-type]
    assert normalise_place_name(stored, kind) == stored  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("十", 10), ("十一", 11), ("二十", 20), ("二十三", 23), ("九十九", 99), ("一百", 100),
     ("一百零五", 105), ("两千零一十", 2010), ("四零一", 401), ("一〇二", 102)],
)  # fmt: skip
def test_chinese_numerals_up_to_thousands(numeral: str, value: int) -> None:
    assert chinese_number(numeral) == value


@pytest.mark.parametrize("text", ["", "百", "十百", "二三十", "商", "7"])
def test_not_a_chinese_numeral(text: str) -> None:
    assert chinese_number(text) is None


def test_validation_stores_the_normalised_building_unit_and_room() -> None:
    raw = {
        "household_code": "7-2-401",
        "building": "七号楼",
        "unit": "二单元",
        "room": "４０１室",
        "head_name": "张三",
        "phone": "13800138000",
    }
    plan = validate_rows([(2, raw)])
    assert plan.errors == []
    [household] = plan.valid
    assert (household.building, household.unit, household.room) == ("7", "2", "401")
