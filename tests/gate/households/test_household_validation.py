"""Row validation of the household import, including 1,000-row files in every accepted format."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from gate.households.spreadsheet import COLUMNS, read_rows
from gate.households.validation import (
    HouseholdStatus,
    ImportPlan,
    check_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_phone,
    parse_date,
    validate_rows,
)

TODAY = dt.date(2026, 6, 1)
HEADERS = [c.header_zh for c in COLUMNS]
KEYS = [c.key for c in COLUMNS]


def make_id(first17: str) -> str:
    """Append the GB 11643 check character, computed independently of the product code."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    value = (12 - sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11) % 11
    return first17 + ("X" if value == 10 else str(value))


def row(code: str, **overrides: str) -> dict[str, str]:
    base = {
        "household_code": code,
        "building": "3",
        "room": "401",
        "head_name": "张三",
        "phone": "13800138000",
    }
    return base | overrides


def errors_of(rows: list[dict[str, str]]) -> set[tuple[int, str, str]]:
    plan = validate_rows(enumerate(rows, start=2), today=TODAY)
    return {(e.row, e.field, e.code) for e in plan.errors}


# --- a 1,000-row sheet with exactly 20 bad rows ---------------------------------------------------

VALID_ID = make_id("35052419900101123")
WRONG_CHECK_ID = VALID_ID[:-1] + ("1" if VALID_ID[-1] != "1" else "2")
BAD_ROWS: dict[int, tuple[dict[str, str], set[tuple[str, str]]]] = {
    # index into the data rows: (overrides, expected {(field, code)})
    7: ({"head_name": ""}, {("head_name", "missing_field")}),
    55: ({"phone": ""}, {("phone", "missing_field")}),
    101: ({"phone": "1380013800"}, {("phone", "bad_phone")}),
    150: ({"phone": "12800138000"}, {("phone", "bad_phone")}),
    199: ({"id_number": WRONG_CHECK_ID}, {("id_number", "bad_id_number")}),
    250: ({"id_number": make_id("35052419901301123")}, {("id_number", "bad_id_number")}),
    301: ({"id_number": "350524900101123"}, {("id_number", "bad_id_number")}),
    333: ({"status": "居家隔离", "quarantine_until": "2026-02-30"},
          {("quarantine_until", "bad_date")}),
    404: ({"status": "居家隔离"}, {("quarantine_until", "missing_field")}),
    420: ({"status": "外出"}, {("status", "bad_status")}),
    499: ({"members": "0"}, {("members", "bad_members")}),
    512: ({"members": "两"}, {("members", "bad_members")}),
    600: ({"household_code": "CODE-10"}, {("household_code", "duplicate")}),
    650: ({"household_code": "CODE-11"}, {("household_code", "duplicate")}),
    700: ({"building": ""}, {("building", "missing_field")}),
    750: ({"room": ""}, {("room", "missing_field")}),
    800: ({"household_code": ""}, {("household_code", "missing_field")}),
    850: ({"phone": "12345", "id_number": "123", "members": "-2"},
          {("phone", "bad_phone"), ("id_number", "bad_id_number"), ("members", "bad_members")}),
    900: ({"quarantine_until": "2026-11-30"}, {("status", "bad_status")}),
    998: ({"status": "隔离", "quarantine_until": "2026/13/01"},
          {("quarantine_until", "bad_date")}),
}  # fmt: skip
assert len(BAD_ROWS) == 20


def sheet_data(
    numeric_phones: bool = False,
) -> tuple[list[dict[str, object]], dict[int, set[tuple[str, str]]]]:
    """1,000 data rows (sheet rows 2..1001) and the expected errors keyed by sheet row."""
    rng = random.Random(20220322)
    surnames, given_names = "张王李赵陈林黄吴郑周", ["三", "丽华", "建国", "秀英", "志强", "娜"]
    rows: list[dict[str, object]] = []
    for index in range(1000):
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        values: dict[str, object] = {
            "household_code": f"CODE-{index}",
            "area": "一片区",
            "grid": f"第{index % 7 + 1}网格",
            "building": str(index // 40 + 1),
            "unit": str(index % 4 + 1),
            "room": f"{index % 10 + 1}0{index % 4 + 1}",
            "head_name": f"\u3000{rng.choice(surnames)}{rng.choice(given_names)} ",
            # Excel stores a phone typed into a General column as a number (int or float).
            "phone": [int, float, str][index % 3](phone) if numeric_phones else phone,
            "id_number": make_id(
                f"350524{1950 + index % 60}0{index % 9 + 1}1{index % 9}{index % 999:03d}"
            )
            if index % 2
            else "",
            "members": str(index % 5 + 1),
            "status": ["正常", "豁免", "normal", ""][index % 4],
            "quarantine_until": "",
            "note": "",
        }
        if index % 50 == 3:
            values |= {"status": "居家隔离", "quarantine_until": "2026年11月30日"}
        rows.append(values)
    expected: dict[int, set[tuple[str, str]]] = {}
    for index, (overrides, errors) in BAD_ROWS.items():
        rows[index] = rows[index] | overrides
        expected[index + 2] = errors
    return rows, expected


def write_csv(rows: list[dict[str, object]], encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for values in rows:
        writer.writerow([values.get(k, "") for k in KEYS])
    writer.writerows([[""] * len(KEYS)] * 3)  # Excel leaves empty trailing rows
    return buffer.getvalue().encode(encoding)


def write_xlsx(rows: list[dict[str, object]], path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    for values in rows:
        cells = [values.get(k, "") for k in KEYS]
        until = str(values["quarantine_until"])
        if until.startswith("2026年"):  # a real date cell, as Excel stores a typed date
            cells[KEYS.index("quarantine_until")] = dt.datetime(2026, 11, 30)
        sheet.append([c if c != "" else None for c in cells])
    for extra in range(1003, 1006):  # formatted but empty trailing rows
        sheet.cell(row=extra, column=1).number_format = "@"
    workbook.save(path)


def assert_exactly_the_bad_rows_reported(
    plan: ImportPlan, expected: dict[int, set[tuple[str, str]]]
) -> None:
    found: dict[int, set[tuple[str, str]]] = {}
    for error in plan.errors:
        found.setdefault(error.row, set()).add((error.field, error.code))
    assert found == expected
    assert plan.bad_rows == sorted(expected)
    assert len(plan.valid) == 980
    assert plan.rows_seen == 1000


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_csv_of_1000_rows_reports_all_20_bad_rows_by_sheet_row(encoding: str) -> None:
    rows, expected = sheet_data()
    data = write_csv(rows, encoding)

    with read_rows(data, "住户.csv") as sheet:
        plan = validate_rows(sheet, today=TODAY)

    assert sheet.encoding == ("utf-8-sig" if encoding.startswith("utf") else "gb18030")
    assert_exactly_the_bad_rows_reported(plan, expected)


def test_xlsx_of_1000_rows_reports_all_20_bad_rows_by_sheet_row(tmp_path: Path) -> None:
    rows, expected = sheet_data(numeric_phones=True)
    path = tmp_path / "住户.xlsx"
    write_xlsx(rows, path)

    with read_rows(path, path.name) as sheet:
        plan = validate_rows(sheet, today=TODAY)

    assert_exactly_the_bad_rows_reported(plan, expected)
    quarantined = [h for h in plan.valid if h.status is HouseholdStatus.QUARANTINED]
    assert quarantined
    assert {h.quarantine_until for h in quarantined} == {dt.date(2026, 11, 30)}


def test_duplicate_is_reported_on_the_later_row_and_names_the_first() -> None:
    later = row(" 3-2-401", head_name="李四")  # not the same row twice: that is duplicate_row
    plan = validate_rows([(2, row("3-2-401")), (3, row("3-2-402")), (9, later)])

    assert [(e.row, e.code) for e in plan.errors] == [(9, "duplicate")]
    assert plan.errors[0].params == {"code": "3-2-401", "first": 2}
    assert "row 2" in plan.errors[0].message
    assert [h.row for h in plan.valid] == [2, 3]


def test_every_problem_of_a_row_is_reported_not_just_the_first() -> None:
    bad = {"household_code": "", "building": "", "room": "", "head_name": "", "phone": "x",
           "id_number": "1", "members": "0", "status": "?", "quarantine_until": "soon"}  # fmt: skip

    assert errors_of([bad]) == {
        (2, "household_code", "missing_field"),
        (2, "building", "missing_field"),
        (2, "room", "missing_field"),
        (2, "head_name", "missing_field"),
        (2, "phone", "bad_phone"),
        (2, "id_number", "bad_id_number"),
        (2, "members", "bad_members"),
        (2, "status", "bad_status"),
        (2, "quarantine_until", "bad_date"),
    }


def test_valid_row_is_normalised_into_typed_fields() -> None:
    plan = validate_rows(
        [
            (
                5,
                row(
                    "３-２-４０１ ",
                    head_name="张  三",
                    phone="+86 138-0013-8000",
                    id_number=make_id("11010519491231002")[:-1] + "x",
                    members="4人",
                    status="居家隔离",
                    quarantine_until="2026/11/30",
                    unit="",
                    note=" 代购 ",
                ),
            )
        ],
        today=TODAY,
    )

    assert plan.ok
    (household,) = plan.valid
    assert household.row == 5
    assert household.household_code == "3-2-401"
    assert household.head_name == "张三"
    assert household.phone == "13800138000"
    assert household.id_number == "11010519491231002X"
    assert household.members == 4
    assert household.status is HouseholdStatus.QUARANTINED
    assert household.quarantine_until == dt.date(2026, 11, 30)
    assert household.unit is None
    assert household.note == "代购"


def test_defaults_are_an_unknown_head_count_and_normal_status() -> None:
    (household,) = validate_rows([(2, row("1-1-101"))]).valid

    assert household.members is None
    assert household.status is HouseholdStatus.NORMAL
    assert household.quarantine_until is None
    assert household.id_number is None


@pytest.mark.parametrize(
    ("word", "status"),
    [("正常", "normal"), ("豁免", "exempt"), ("EXEMPT", "exempt"), ("Normal", "normal")],
)
def test_status_accepts_chinese_and_english_words(word: str, status: str) -> None:
    (household,) = validate_rows([(2, row("1-1-101", status=word))]).valid

    assert household.status == status


def test_household_row_repr_does_not_show_personal_data() -> None:
    (household,) = validate_rows(
        [(2, row("1-1-101", id_number=VALID_ID, note="独居老人"))], today=TODAY
    ).valid

    text = repr(household)
    assert "1-1-101" in text
    for secret in ("张三", "13800138000", VALID_ID, "独居老人"):
        assert secret not in text


def test_error_messages_do_not_echo_personal_data() -> None:
    plan = validate_rows(
        [(2, row("1-1-101", phone="1391234567", id_number=WRONG_CHECK_ID))], today=TODAY
    )

    assert {e.code for e in plan.errors} == {"bad_phone", "bad_id_number"}
    for error in plan.errors:
        shown = error.message + repr(error.params)
        assert "1391234567" not in shown
        assert WRONG_CHECK_ID[:-1] not in shown


def test_template_example_rows_are_refused() -> None:
    assert errors_of([row("示例-3-2-401")]) == {(2, "household_code", "example_row")}


def test_value_longer_than_its_database_column_is_refused() -> None:
    assert errors_of([row("1-1-101", room="1" * 17)]) == {(2, "room", "too_long")}


def test_excel_scientific_phone_and_id_are_refused_not_guessed() -> None:
    assert errors_of([row("1-1-101", phone="1.38001E+10", id_number="3.50524E+17")]) == {
        (2, "phone", "bad_phone"),
        (2, "id_number", "bad_id_number"),
    }


# --- ID numbers ---------------------------------------------------------------------------------

id_bodies = st.builds(
    lambda region, born, seq: f"{region}{born:%Y%m%d}{seq:03d}",
    st.integers(100000, 999999),
    st.dates(dt.date(1900, 1, 1), TODAY),
    st.integers(0, 999),
)


@given(id_bodies)
def test_id_with_computed_check_digit_is_accepted(body: str) -> None:
    assert check_id_number(make_id(body), today=TODAY)
    assert check_id_number(make_id(body).lower(), today=TODAY)


@given(id_bodies, st.integers(0, 17), st.integers(1, 10))
def test_any_single_character_change_of_a_valid_id_is_rejected(
    body: str, position: int, shift: int
) -> None:
    valid = make_id(body)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    original = alphabet.index(valid[position])
    changed = alphabet[(original + shift) % len(alphabet)]
    if changed == valid[position]:  # shift of 10 on the digits-only alphabet
        changed = alphabet[(original + 1) % len(alphabet)]

    assert not check_id_number(valid[:position] + changed + valid[position + 1 :], today=TODAY)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "11010519491231002",  # 17 characters
        "110105194912310021X",  # 19 characters
        "110105491231002",  # first-generation 15 digits
        make_id("11010519490230002"),  # 30 February
        make_id("11010520270101002"),  # born after today
        make_id("11010518991231002"),  # born before 1900
        make_id("01010519491231002"),  # region cannot start with 0
        "1101051949123100X2",
    ],
)
def test_malformed_id_numbers_are_rejected(value: str) -> None:
    assert not check_id_number(value, today=TODAY)


def test_well_known_specimen_id_is_accepted() -> None:
    assert check_id_number("11010519491231002X", today=TODAY)
    assert check_id_number(" 11010519491231002x\u3000", today=TODAY)


# --- phones, dates, masks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 13800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("19912345678", "19912345678"),
        ("0595-12345678", "0595-12345678"),
        ("059512345678", "0595-12345678"),
        ("(0595)2345678", "0595-2345678"),
        ("010-62345678", "010-62345678"),
        ("021 62345678", "021-62345678"),
    ],
)
def test_phone_formats_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    ["", "1380013800", "138001380001", "12800138000", "23800138000", "0595-123456",
     "0595-012345678", "12345678", "13800138000/13900139000", "1.38001E+10"],
)  # fmt: skip
def test_bad_phones_are_rejected(raw: str) -> None:
    assert normalise_phone(raw) is None


@pytest.mark.parametrize(
    "raw",
    ["2026-11-30", "2026/11/30", "2026.11.30", "2026年11月30日", "2026 年 11 月 30 日",
     "2026/11/30 0:00", "2026-11-30 00:00:00", "20261130", "２０２６-１１-３０"],
)  # fmt: skip
def test_date_formats_excel_users_type_are_parsed(raw: str) -> None:
    assert parse_date(raw) == dt.date(2026, 11, 30)


@pytest.mark.parametrize(
    "raw", ["2026-02-30", "2026-13-01", "30/11/2026", "明天", "1999-12-31", "2026-11-30 14:00"]
)
def test_impossible_or_ambiguous_dates_are_rejected(raw: str) -> None:
    assert parse_date(raw) is None


def test_masks_keep_only_what_identifies_a_row_to_staff() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "*"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("0595-12345678") == "0595-****5678"
    assert mask_id_number("350524199001011234") == "3505**********1234"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    for mask in (mask_name, mask_phone, mask_id_number):
        assert mask("") == ""
        assert mask(None) == ""
