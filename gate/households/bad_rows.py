"""The bad rows of an import as a spreadsheet to fix and upload again.

:func:`bad_rows_workbook` reads the uploaded sheet again and writes every row that has an
error, with the file's own columns (its header texts, in its order) and a last column
``错误原因`` listing each problem as "column: reason". The import reads that column back
without a warning and ignores it, so the office fixes the cells and uploads the same file.
Phone and ID-number columns are text cells, so Excel keeps every digit.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from gate.households.spreadsheet import ERROR_COLUMN, Source, read_rows
from gate.households.validation import RowError

__all__ = ["bad_rows_workbook"]

_TEXT_KEYS = frozenset({"phone", "id_number", "household_code", "room", "unit", "building"})
_ERROR_FILL = PatternFill("solid", fgColor="F8CBAD")


def bad_rows_workbook(
    source: Source,
    filename: str,
    errors: Iterable[RowError],
    *,
    describe: Callable[[RowError], str],
    column_name: Callable[[str], str],
) -> bytes:
    """The .xlsx bytes of the rows of ``source`` named by ``errors``.

    ``describe(error)`` words a problem and ``column_name(key)`` a column, in the reader's
    language (entry points pass gettext-based functions).
    """
    reasons: dict[int, list[str]] = {}
    for error in errors:
        reasons.setdefault(error.row, []).append(f"{column_name(error.field)}：{describe(error)}")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "有错误的行"
    with read_rows(source, filename) as rows:
        keys = list(rows.columns)
        sheet.append([*(rows.columns[key] for key in keys), ERROR_COLUMN])
        for number, values in rows:
            if number in reasons:
                sheet.append([*(values.get(key) or None for key in keys),
                              "；".join(reasons[number])])  # fmt: skip
    _style(sheet, keys)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _style(ws: Any, keys: list[str]) -> None:
    for index, key in enumerate([*keys, ERROR_COLUMN], start=1):
        ws.cell(row=1, column=index).font = Font(bold=True)
        ws.column_dimensions[get_column_letter(index)].width = 50 if key == ERROR_COLUMN else 16
        for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
            if key in _TEXT_KEYS:
                cell.number_format = "@"
            if key == ERROR_COLUMN:
                cell.fill = _ERROR_FILL
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
