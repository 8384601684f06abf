"""A row entered twice is reported as a repeat of the earlier row ("与第 7 行重复"), not as a
second head of household or a household code without a relation."""

from __future__ import annotations

import datetime as dt

from gate.households.validation import validate_rows

TODAY = dt.date(2026, 6, 1)


def _row(code: str, **overrides: str) -> dict[str, str]:
    base = {
        "household_code": code,
        "building": "1",
        "unit": "2",
        "room": "302",
        "head_name": "张三",
        "phone": "13800138000",
        "relation": "户主",
    }
    return base | overrides


def _errors(
    rows: list[tuple[int, dict[str, str]]],
) -> list[tuple[int, str, str, dict[str, object]]]:
    plan = validate_rows(rows, today=TODAY)
    return [(e.row, e.field, e.code, dict(e.params)) for e in plan.errors]


def test_a_head_row_entered_twice_is_a_repeat_of_the_first_not_a_second_head() -> None:
    rows = [(2, _row("1-2-301")), (7, _row("1-2-302")), (12, _row("1-2-302"))]
    assert _errors(rows) == [(12, "household_code", "duplicate_row", {"first": 7})]
    plan = validate_rows(rows, today=TODAY)
    assert [h.row for h in plan.valid] == [2, 7]
    assert "Same as row 7" in plan.errors[0].message


def test_a_member_row_entered_twice_is_a_repeat_of_the_first() -> None:
    member = _row("1-2-302", head_name="李四", relation="配偶", phone="")
    rows = [(7, _row("1-2-302")), (8, member), (9, dict(member))]
    assert _errors(rows) == [(9, "household_code", "duplicate_row", {"first": 8})]


def test_a_row_without_relation_entered_twice_is_a_repeat_of_the_first() -> None:
    rows = [(2, _row("1-2-302", relation="")), (5, _row("1-2-302", relation=""))]
    assert _errors(rows) == [(5, "household_code", "duplicate_row", {"first": 2})]


def test_a_second_head_that_differs_is_still_two_heads() -> None:
    rows = [(7, _row("1-2-302")), (12, _row("1-2-302", head_name="王五"))]
    errors = _errors(rows)
    assert [(r, f, c) for r, f, c, _p in errors] == [(12, "relation", "two_heads")]


def test_a_bad_row_entered_twice_keeps_its_own_errors() -> None:
    bad = _row("1-2-302", phone="12345")
    errors = _errors([(7, bad), (12, dict(bad))])
    assert (7, "phone", "bad_phone") in {(r, f, c) for r, f, c, _p in errors}
    assert (12, "phone", "bad_phone") in {(r, f, c) for r, f, c, _p in errors}
    assert not any(c == "duplicate_row" for _r, _f, c, _p in errors)
