"""Exporting the crossing log to CSV or XLSX for the office and for auditors, streamed.

Rows are read with ``yield_per`` (a server-side cursor on PostgreSQL; SQLite's cursor is lazy
anyway) and written as they come: CSV line by line, XLSX through openpyxl's write-only
workbook (rows go to a temporary file, the zip is assembled at the end). Memory does not grow
with the number of rows.

Cells are what an office opens in Excel: Chinese headers, times in the community's zone,
UTF-8 with a BOM for CSV (Excel reads BOM-less CSV as the ANSI code page), and every text
cell that Excel would read as a formula (``= + - @``, tab, CR) prefixed with ``'`` so a
crafted operator name or override reason cannot run anything (CSV injection).
The head of household's name is masked (``张*``) unless ``unmasked``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing
from gate.devices.models import Gate
from gate.households.models import Household, Member
from gate.households.validation import mask_name
from passes import Direction

Format = Literal["csv", "xlsx"]

HEADERS = (
    "时间",
    "闸口",
    "方向",
    "户编号",
    "户主",
    "体温",
    "结果",
    "原因代码",
    "离线",
    "冲突",
    "操作员",
    "放行人",
    "放行原因",
    "规则版本",
    "流水号",
    "哈希",
)
_WIDTHS = (20, 10, 6, 12, 10, 7, 7, 16, 6, 6, 12, 10, 20, 9, 9, 66)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_YIELD_PER = 2000
_PROGRESS_EVERY = 10_000
XLSX_MAX_ROWS = 1_048_576
"""Excel's row limit per sheet; longer exports continue on a new sheet."""


def neutralise(text: str) -> str:
    """``text`` safe for a spreadsheet cell: a leading ``'`` if Excel would see a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def export_query(
    *,
    community_id: int,
    start: datetime,
    end: datetime,
    gate_id: int | None = None,
    household_id: int | None = None,
) -> Select[Any]:
    """The rows of an export: crossings in ``[start, end)`` with gate code, household code and
    head of household's name, in scan order."""
    head_name = (
        select(Member.name)
        .where(Member.household_id == Crossing.household_id)
        .order_by(Member.is_head.desc(), Member.id)
        .limit(1)
        .correlate(Crossing)
        .scalar_subquery()
    )
    query = (
        select(
            Crossing.scanned_at,
            Gate.code,
            Crossing.direction,
            Household.code,
            head_name,
            Crossing.temperature_tenths,
            Crossing.allowed,
            Crossing.code,
            Crossing.offline,
            Crossing.conflict,
            Crossing.operator,
            Crossing.override_supervisor,
            Crossing.override_reason,
            Crossing.rule_version,
            Crossing.gate_seq,
            Crossing.row_hash,
        )
        .join(Gate, Gate.id == Crossing.gate_id)
        .outerjoin(Household, Household.id == Crossing.household_id)
        .where(
            Crossing.community_id == community_id,
            Crossing.scanned_at >= start,
            Crossing.scanned_at < end,
        )
        .order_by(Crossing.scanned_at, Crossing.id)
    )
    if gate_id is not None:
        query = query.where(Crossing.gate_id == gate_id)
    if household_id is not None:
        query = query.where(Crossing.household_id == household_id)
    return query


def count_crossings(
    session: Session,
    *,
    community_id: int,
    start: datetime,
    end: datetime,
    gate_id: int | None = None,
    household_id: int | None = None,
) -> int:
    """How many rows :func:`export_crossings` would write with the same filters."""
    query = select(func.count(Crossing.id)).where(
        Crossing.community_id == community_id,
        Crossing.scanned_at >= start,
        Crossing.scanned_at < end,
    )
    if gate_id is not None:
        query = query.where(Crossing.gate_id == gate_id)
    if household_id is not None:
        query = query.where(Crossing.household_id == household_id)
    return int(session.scalar(query) or 0)


def export_crossings(
    session: Session,
    *,
    community_id: int,
    start: datetime,
    end: datetime,
    gate_id: int | None = None,
    household_id: int | None = None,
    fmt: Format,
    out: BinaryIO,
    unmasked: bool = False,
    timezone: str,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write the crossings of ``[start, end)`` (aware datetimes) to ``out``; return the count.

    Read-only; the caller audits the export (an unmasked one MUST be audited). ``out`` is left
    open. ``on_progress`` gets the number of rows written every 10,000 rows and at the end.
    """
    query = export_query(
        community_id=community_id,
        start=start,
        end=end,
        gate_id=gate_id,
        household_id=household_id,
    )
    rows = session.execute(query, execution_options={"yield_per": _YIELD_PER})
    cells = export_cells(rows, ZoneInfo(timezone), unmasked=unmasked)
    counted = _Progress(on_progress)
    if fmt == "csv":
        written = _write_csv(counted.wrap(cells), out)
    elif fmt == "xlsx":
        written = _write_xlsx(counted.wrap(cells), out)
    else:
        raise ValueError(f"unknown export format {fmt!r}: use csv or xlsx")
    counted.done()
    return written


class _Progress:
    def __init__(self, on_progress: Callable[[int], None] | None) -> None:
        self.on_progress = on_progress
        self.rows = 0

    def wrap(self, rows: Iterator[list[Any]]) -> Iterator[list[Any]]:
        for row in rows:
            yield row
            self.rows += 1
            if self.on_progress is not None and self.rows % _PROGRESS_EVERY == 0:
                self.on_progress(self.rows)

    def done(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.rows)


def export_cells(rows: Any, zone: ZoneInfo, *, unmasked: bool) -> Iterator[list[Any]]:
    """Typed cells of :data:`HEADERS` for rows of :func:`export_query`: local naive datetime,
    ints, a float temperature, text (not yet escaped: see :func:`cell_text`)."""
    for (
        scanned_at,
        gate_code,
        direction,
        household_code,
        head,
        tenths,
        allowed,
        code,
        offline,
        conflict,
        operator,
        supervisor,
        reason,
        rule_version,
        gate_seq,
        row_hash,
    ) in rows:
        yield [
            scanned_at.astimezone(zone).replace(tzinfo=None),
            gate_code,
            "出" if direction is Direction.OUT else "进",
            household_code or "",
            (head if unmasked else mask_name(head)) or "",
            None if tenths is None else tenths / 10,
            "通过" if allowed else "禁止",
            code or "",
            "是" if offline else "否",
            "是" if conflict else "否",
            operator or "",
            supervisor or "",
            reason or "",
            rule_version,
            gate_seq,
            row_hash,
        ]


def cell_text(value: Any) -> str:
    """A cell as CSV text: times to the second, temperature with one decimal, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def _write_csv(rows: Iterator[list[Any]], out: BinaryIO) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    try:
        writer = csv.writer(text)
        writer.writerow(HEADERS)
        written = 0
        for row in rows:
            writer.writerow([cell_text(value) for value in row])
            written += 1
        text.flush()
    finally:
        text.detach()  # leave ``out`` open for the caller
    return written


def _write_xlsx(rows: Iterator[list[Any]], out: BinaryIO) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)

    def new_sheet(number: int) -> Any:
        sheet = workbook.create_sheet("通行记录" if number == 1 else f"通行记录{number}")
        for index, width in enumerate(_WIDTHS, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.append(list(HEADERS))
        return sheet

    def xlsx_value(value: Any) -> Any:
        if isinstance(value, str):
            # openpyxl would store "=..." as a formula, and refuses control characters.
            return ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))
        return value

    sheet_number, sheet = 1, new_sheet(1)
    rows_on_sheet, written = 1, 0
    for row in rows:
        if rows_on_sheet == XLSX_MAX_ROWS:
            sheet_number += 1
            sheet, rows_on_sheet = new_sheet(sheet_number), 1
        time_cell = WriteOnlyCell(sheet, value=row[0])
        time_cell.number_format = "yyyy-mm-dd hh:mm:ss"
        sheet.append([time_cell, *(xlsx_value(value) for value in row[1:])])
        rows_on_sheet += 1
        written += 1
    workbook.save(out)
    return written
