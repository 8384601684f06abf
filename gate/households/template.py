"""Write the office's household import template (.xlsx).

Sheet 1 "住户登记": the Chinese header (required columns shaded), example rows that
validation refuses to import (a head of household, a member of the same household, a
household in quarantine), phone and ID columns stored as text so Excel keeps every digit,
status and relation drop-downs, widths set and the header frozen. Sheet 2 "填写说明" explains
the layout (one row per person; a household's rows share its 户编号) and each column.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from gate.households.spreadsheet import COLUMNS, EXAMPLE_ROWS

__all__ = ["DATA_SHEET", "NOTES_SHEET", "write_template"]

DATA_SHEET = "住户登记"
NOTES_SHEET = "填写说明"
TEMPLATE_ROWS = 2000  # rows covered by the status drop-down and the text formats

_REQUIRED_FILL = PatternFill("solid", fgColor="FFE699")
_OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")
_BOLD = Font(bold=True)

_GENERAL_NOTES = (
    "1. 第一行是表头，请不要修改、删除或调换表头；黄色表头为必填列，蓝色为选填列。",
    "2. 每人填写一行。同一户的人户编号相同（如 楼栋-单元-房号：3-2-401）：户主一行在前，"
    "与户主关系写“户主”或空着；其他成员每人一行，与户主关系必填（配偶、子女、父母、其他）。",
    "3. 户的信息（小区、片区、网格、楼栋、单元、房号、人数、状态、隔离截止）填在户主行即可，"
    "成员行可以空着；如果填写，必须与户主行相同。",
    "4. 楼栋、单元、房号写法不限：7、7号楼、7栋、七号楼 都是 7 号楼；2单元、二单元 都是 2 单元；"
    "401室 就是 401。A座、商铺 等名称按原样保存。",
    "5. 片区、网格、小区可以空着：社区只有一个时自动归入；有多个片区或网格而未填写时，"
    "归入“未分片区”“未分网格”，导入后可在层级页面调整。一个网格有多个小区时必须填写小区。",
    "6. 人数可空：空着时新户按所列人数计，已登记的户保持原值。"
    "备注、身份证号空着也不会清除已有内容。",
    "7. 第 2 至 4 行是示例，导入前请删除，否则导入会被拒绝。",
    "8. 联系电话和身份证号列已设为文本格式；从别处粘贴时请选择“只粘贴值”，以免末几位变成 0。",
    "9. 也可以另存为 CSV（UTF-8 或 Excel 默认的中文编码均可）后导入。",
    "10. 导入前会检查每一行，有错误的行会列出行号和原因。可以改正后重新上传，"
    "也可以先只导入正确的行，再下载有错误的行（带“错误原因”列），改好后上传这个文件。",
    "11. 重复导入同一份名单不会产生重复的户或成员；只有改动过的内容会被更新，成员不会被删除。",
)


def write_template(path: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write the import template to ``path`` (a file name, overwritten; or a binary stream)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = DATA_SHEET
    _write_data_sheet(sheet)
    _write_notes_sheet(workbook.create_sheet(NOTES_SHEET))
    workbook.save(path)


def _write_data_sheet(ws: Any) -> None:
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index, value=column.header_zh)
        cell.font = _BOLD
        cell.fill = _REQUIRED_FILL if column.required else _OPTIONAL_FILL
        cell.alignment = Alignment(horizontal="center")
        dimension = ws.column_dimensions[letter]
        dimension.width = column.width
        if column.text_format:
            # The column style is what Excel applies to cells typed in later.
            dimension.number_format = "@"
        for row_number, example in enumerate(EXAMPLE_ROWS, start=2):
            value: object = example[column.key] or None
            if column.key == "quarantine_until" and value:
                value = dt.date.fromisoformat(str(value))
            target = ws.cell(row=row_number, column=index, value=value)
            if column.text_format:
                target.number_format = "@"
            elif isinstance(value, dt.date):
                target.number_format = "yyyy-mm-dd"
    status_letter = get_column_letter(
        next(i for i, c in enumerate(COLUMNS, 1) if c.key == "status")
    )
    drop_down = DataValidation(
        type="list",
        formula1='"正常,居家隔离,豁免"',
        allow_blank=True,
        errorTitle="状态",
        error="请选择：正常、居家隔离 或 豁免",
    )
    drop_down.add(f"{status_letter}2:{status_letter}{TEMPLATE_ROWS}")
    ws.add_data_validation(drop_down)
    relation_letter = get_column_letter(
        next(i for i, c in enumerate(COLUMNS, 1) if c.key == "relation")
    )
    relations = DataValidation(
        type="list",
        formula1='"户主,配偶,子女,父母,其他"',
        allow_blank=True,
        showErrorMessage=False,  # 妻子、儿子 ... are read too: a hint, not a rule
    )
    relations.add(f"{relation_letter}2:{relation_letter}{TEMPLATE_ROWS}")
    ws.add_data_validation(relations)
    ws.freeze_panes = "A2"


def _write_notes_sheet(sheet: Any) -> None:
    sheet.append(["住户导入模板填写说明"])
    sheet["A1"].font = Font(bold=True, size=14)
    for line in _GENERAL_NOTES:
        sheet.append([line])
    sheet.append([])
    sheet.append(["列名", "是否必填", "说明", "示例", "英文列名（也可使用）"])
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = _BOLD
    for column in COLUMNS:
        example = EXAMPLE_ROWS[2 if column.key == "quarantine_until" else 0][column.key]
        sheet.append(
            [column.header_zh, "必填" if column.required else "选填", column.help_zh,
             example, column.key]
        )  # fmt: skip
    for letter, width in zip("ABCDE", (14, 10, 60, 22, 20), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
