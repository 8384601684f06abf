"""Reading household sheets (.xlsx, .csv in UTF-8 or GBK) and writing the import template."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import tracemalloc
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from gate.households.spreadsheet import COLUMNS, SHEET_MESSAGES, SheetError, read_rows
from gate.households.template import DATA_SHEET, NOTES_SHEET, write_template
from gate.households.validation import validate_rows

HEADERS = [c.header_zh for c in COLUMNS]
# The first eight columns of the old one-row-per-household sheet, in its order.
OLD_HEADERS = ["户编号", "片区", "网格", "楼栋", "单元", "房号", "户主姓名", "联系电话"]
REQUIRED = ["户编号", "楼栋", "房号", "户主姓名", "联系电话"]


def xlsx_bytes(rows: Sequence[Sequence[object]], title: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if title is not None:
        sheet.title = title
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def read_all(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    with read_rows(data, filename) as rows:
        return list(rows)


# --- formats and encodings ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_utf8_or_chinese_excel_encoding_reads_the_same(encoding: str) -> None:
    data = csv_bytes([REQUIRED, ["3-2-401", "3", "401", "欧阳娜娜", "13800138000"]], encoding)

    assert read_all(data, "住户.csv") == [
        (
            2,
            {
                "household_code": "3-2-401",
                "building": "3",
                "room": "401",
                "head_name": "欧阳娜娜",
                "phone": "13800138000",
            },
        )
    ]


def test_xlsx_cells_come_out_as_stripped_text_with_sheet_row_numbers() -> None:
    data = xlsx_bytes(
        [
            OLD_HEADERS,
            ["\u30003-2-401 ", "一片区", None, 3, 2, 401, " 张三\u3000", "13800138000"],
            [],
            [],
            ["3-2-402", None, None, 3, 2, 402, "李四", "13900139000"],
        ]
    )

    rows = read_all(data, "a.xlsx")

    assert [number for number, _ in rows] == [2, 5]
    first = rows[0][1]
    assert first["household_code"] == "3-2-401"
    assert first["building"] == "3"
    assert first["room"] == "401"
    assert first["head_name"] == "张三"
    assert first["grid"] == ""


def test_multiline_csv_cell_counts_as_one_sheet_row() -> None:
    data = csv_bytes(
        [[*REQUIRED, "备注"], ["1", "1", "101", "甲", "13800138000", "第一行\n第二行"],
         ["2", "1", "102", "乙", "13800138001", ""]]
    )  # fmt: skip

    rows = read_all(data, "a.csv")

    assert [(n, r["household_code"]) for n, r in rows] == [(2, "1"), (3, "2")]
    assert rows[0][1]["note"] == "第一行\n第二行"


def test_excel_sep_hint_line_sets_the_delimiter_and_is_not_a_sheet_row() -> None:
    data = "sep=;\r\n户编号;楼栋;房号;户主姓名;联系电话\r\n1;1;101;a;13800138000\r\n"

    assert read_all(data.encode(), "a.csv") == [
        (2, {"household_code": "1", "building": "1", "room": "101", "head_name": "a",
             "phone": "13800138000"})
    ]  # fmt: skip


def test_trailing_empty_rows_are_ignored() -> None:
    data = csv_bytes([REQUIRED, ["1", "1", "101", "a", "13800138000"], ["", "", "", "", ""], []])

    assert len(read_all(data, "a.csv")) == 1


def test_header_below_a_title_row_is_found_and_row_numbers_stay_true() -> None:
    data = xlsx_bytes([["某某小区住户登记表"], OLD_HEADERS, ["1", None, None, "1", None, "101", "a",
                       "13800138000"]])  # fmt: skip

    with read_rows(data, "a.xlsx") as rows:
        assert rows.header_row == 2
        assert [w.code for w in rows.warnings] == ["header_not_first_row"]
        assert [n for n, _ in rows] == [3]


def test_english_headers_and_marked_chinese_headers_are_accepted() -> None:
    header = ["Household Code", "*楼栋", "房号（必填）", "head_name", "PHONE"]
    data = csv_bytes([header, ["1", "1", "101", "a", "13800138000"]])

    with read_rows(data, "a.csv") as rows:
        assert set(rows.columns) == {"household_code", "building", "room", "head_name", "phone"}
        assert not rows.warnings


def test_data_sheet_is_found_even_when_notes_sheet_is_active() -> None:
    workbook = Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["请按模板填写"])
    data_sheet = workbook.create_sheet("住户")
    data_sheet.append(REQUIRED)
    data_sheet.append(["1", "1", "101", "a", "13800138000"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    with read_rows(buffer.getvalue(), "a.xlsx") as rows:
        assert rows.sheet_name == "住户"
        assert len(list(rows)) == 1


# --- header errors ------------------------------------------------------------------------------


def test_missing_required_columns_are_all_named() -> None:
    data = csv_bytes([["户编号", "楼栋", "房号", "备注"], ["1", "1", "101", ""]])

    with pytest.raises(SheetError) as caught:
        read_rows(data, "a.csv")

    assert caught.value.code == "missing_columns"
    assert caught.value.missing == ("head_name", "phone")
    assert caught.value.params == {"row": 1, "columns": "姓名、联系电话"}
    assert "姓名" in caught.value.message


def test_unknown_columns_are_ignored_and_reported() -> None:
    data = csv_bytes([[*REQUIRED, "车型"], ["1", "1", "101", "a", "13800138000", "轿车"]])

    with read_rows(data, "a.csv") as rows:
        (warning,) = rows.warnings
        (_, values) = next(rows)

    assert warning.code == "unknown_column"
    assert "车型" in warning.message
    assert "轿车" not in values.values()


def test_the_plate_column_is_read_now() -> None:
    """车牌号 was dropped with a warning before vehicles (issue #15): now it is a column."""
    data = csv_bytes([[*REQUIRED, "车牌号"], ["1", "1", "101", "a", "13800138000", "闽C12345"]])

    with read_rows(data, "a.csv") as rows:
        assert rows.warnings == []
        (_, values) = next(rows)

    assert values["plates"] == "闽C12345"


def test_same_column_twice_is_an_error() -> None:
    data = csv_bytes([[*REQUIRED, "手机号"], ["1", "1", "101", "a", "13800138000", "1"]])

    with pytest.raises(SheetError) as caught:
        read_rows(data, "a.csv")

    assert caught.value.code == "duplicate_column"


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "a.csv", "empty"),
        (b"\xff\xfe\x00\x00", "a.csv", "bad_encoding"),
        (b"\xff\xff\xff\xff,\n", "a.csv", "bad_encoding"),
        (b"\xd0\xcf\x11\xe0 old binary excel", "a.xlsx", "bad_xlsx"),
        (b"PK\x03\x04 not really a zip", "a.xlsx", "bad_xlsx"),
        (b"anything", "a.xls", "unsupported_format"),
        (b"anything", "a.pdf", "unsupported_format"),
    ],
)
def test_unreadable_files_raise_a_sheet_error_with_a_code(
    data: bytes, filename: str, code: str
) -> None:
    with pytest.raises(SheetError) as caught:
        read_rows(data, filename)

    assert caught.value.code == code
    assert caught.value.message_id in SHEET_MESSAGES.values()
    assert caught.value.message


def test_damaged_sheet_inside_an_xlsx_is_a_sheet_error_naming_the_row() -> None:
    good = xlsx_bytes([REQUIRED] + [[str(i), 1, i, "a", "13800138000"] for i in range(20)])
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: content.index(b'<row r="6"')] + b"<row r='6'><c"
            target.writestr(item, content)

    with pytest.raises(SheetError) as caught, read_rows(damaged.getvalue(), "a.xlsx") as rows:
        list(rows)

    assert caught.value.code == "bad_xlsx"
    assert caught.value.params == {"row": 6}


# --- Excel number and date quirks ---------------------------------------------------------------


def test_excel_numeric_phone_cells_become_digit_strings() -> None:
    data = xlsx_bytes(
        [REQUIRED, ["1", 1, 101, "a", 13800138000], ["2", 1, 102, "b", 13800138000.0],
         ["3", 1, 103, "c", 1.38e10]]
    )  # fmt: skip

    phones = [values["phone"] for _, values in read_all(data, "a.xlsx")]

    assert phones == ["13800138000", "13800138000", "13800000000"]


def test_id_number_beyond_excel_precision_is_not_turned_into_digits() -> None:
    data = xlsx_bytes(
        [[*REQUIRED, "身份证号"], ["1", 1, 101, "a", "13800138000", 3.50524199001011e17]]
    )

    with read_rows(data, "a.xlsx") as rows:
        plan = validate_rows(rows)

    assert [(e.field, e.code) for e in plan.errors] == [("id_number", "bad_id_number")]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("13800138000.0", "13800138000"),
        ("1.3800138E+10", "1.3800138E+10"),  # digits were cut: left for validation to refuse
        ("1.3800138000E+10", "13800138000"),  # every digit written out: lossless
        ("1.38001E+10", "1.38001E+10"),
    ],
)
def test_csv_number_text_in_phone_column_is_fixed_only_when_lossless(
    cell: str, expected: str
) -> None:
    data = csv_bytes([REQUIRED, ["1", "1", "101", "a", cell]], "gbk")

    assert read_all(data, "a.csv")[0][1]["phone"] == expected


def test_date_cells_become_iso_dates() -> None:
    data = xlsx_bytes(
        [[*REQUIRED, "状态", "隔离截止"],
         ["1", 1, 101, "a", "13800138000", "居家隔离", dt.datetime(2026, 11, 30)],
         ["2", 1, 102, "b", "13800138001", "居家隔离", dt.date(2026, 12, 1)]]
    )  # fmt: skip

    with read_rows(data, "a.xlsx") as rows:
        plan = validate_rows(rows)

    assert plan.ok
    assert [h.quarantine_until for h in plan.valid] == [dt.date(2026, 11, 30), dt.date(2026, 12, 1)]


# --- streaming ----------------------------------------------------------------------------------


def big_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for index in range(count):
            writer.writerow(
                [f"{index // 100}-{index % 100}", "一片区", "第一网格", index // 100, 1,
                 index % 100, "王秀英", f"138{index:08d}", "", 3, "正常", "", "备注" * 10]
            )  # fmt: skip


def test_progress_is_reported_while_reading_and_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    big_csv(path, 1234)
    seen: list[int] = []

    with read_rows(path, path.name, on_progress=seen.append) as rows:
        assert sum(1 for _ in rows) == 1234

    assert seen == [500, 1000, 1234]


def test_reading_a_large_csv_keeps_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    big_csv(path, 15_000)  # about 1.5 MB on disk; the reader's peak is ~0.3 MB at any size
    assert path.stat().st_size > 1_400_000

    tracemalloc.start()
    try:
        with read_rows(path, path.name) as rows:
            count = sum(1 for _ in rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 15_000
    assert peak < 600_000


def test_rows_are_read_lazily_and_an_abandoned_reader_releases_its_file(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(
        xlsx_bytes([REQUIRED] + [[str(i), 1, i, "a", "13800138000"] for i in range(50)])
    )

    rows = read_rows(path, path.name)
    assert next(rows)[0] == 2
    del rows
    gc.collect()  # an unclosed file would raise ResourceWarning, an error under filterwarnings


def test_caller_owned_stream_is_left_open() -> None:
    stream = io.BytesIO(csv_bytes([REQUIRED, ["1", "1", "101", "a", "13800138000"]]))

    with read_rows(stream, "a.csv") as rows:
        assert len(list(rows)) == 1

    assert not stream.closed


# --- the template -------------------------------------------------------------------------------


def test_template_reads_back_with_every_column_and_refuses_its_examples(tmp_path: Path) -> None:
    path = tmp_path / "模板.xlsx"
    write_template(path)

    with read_rows(path, path.name) as rows:
        assert list(rows.columns) == [c.key for c in COLUMNS]
        assert not rows.warnings
        plan = validate_rows(rows)

    assert not plan.valid
    assert {(e.row, e.code) for e in plan.errors if e.field == "household_code"} == {
        (2, "example_row"),
        (3, "example_row"),
        (4, "example_row"),
    }
    assert {e.code for e in plan.errors} == {"example_row"}  # the examples are otherwise valid


def test_template_keeps_phone_and_id_as_text_and_freezes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "模板.xlsx"
    write_template(path)

    workbook = load_workbook(path)
    sheet = workbook[DATA_SHEET]
    assert [c.value for c in sheet[1]] == HEADERS
    assert sheet.freeze_panes == "A2"
    for index, column in enumerate(COLUMNS, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        assert sheet.column_dimensions[letter].width == column.width
        if column.key in {"phone", "id_number"}:
            assert sheet.column_dimensions[letter].number_format == "@"
            assert sheet.cell(row=2, column=index).number_format == "@"
            assert isinstance(sheet.cell(row=2, column=index).value, str)
    notes = " ".join(str(c.value) for row in workbook[NOTES_SHEET].iter_rows() for c in row)
    for header in HEADERS:
        assert header in notes
