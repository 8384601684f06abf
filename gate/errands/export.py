"""The errand list as an Excel workbook (the office's daily sheet for the squads).

Chinese headers, times in the community's zone, each code (kind, status) beside its label,
every text cell neutralised against formulas (see :func:`gate.crossings.export.neutralise`).
The entry point passes its translator, so labels come from the one catalogue. Audited as
``errand.export`` (the free text may say what medicine a household needs).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.crossings.export import neutralise
from gate.errands.labels import KIND_LABELS, SOURCE_LABELS, STATUS_LABELS
from gate.errands.queries import ErrandRow

HEADERS = (
    "编号",
    "户编号",
    "网格",
    "类别",
    "类别代码",
    "需求",
    "物品清单",
    "状态",
    "状态代码",
    "来源",
    "指派给",
    "接单人",
    "提出时间",
    "接单时间",
    "送达时间",
    "送达备注",
    "取消原因",
)
_WIDTHS = (8, 14, 14, 10, 10, 30, 30, 10, 10, 10, 14, 12, 17, 17, 17, 24, 20)


def errands_workbook(
    rows: Sequence[ErrandRow], *, timezone: str, translate: Callable[[str], str]
) -> bytes:
    """The XLSX bytes of ``rows`` (one sheet, 代购代办)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    zone = ZoneInfo(timezone)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its first sheet
    sheet.title = "代购代办"
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append(_cells(row, zone, translate))
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _time(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _cells(row: ErrandRow, zone: ZoneInfo, translate: Callable[[str], str]) -> list[object]:
    errand = row.errand
    kind, status = errand.kind.value, errand.status.value
    return [
        errand.id,
        neutralise(row.household_code),
        neutralise(row.grid_name),
        translate(KIND_LABELS[kind]),
        kind,
        neutralise(errand.text),
        neutralise("、".join(row.item_list)),
        translate(STATUS_LABELS[status]),
        status,
        translate(SOURCE_LABELS[errand.source.value]),
        neutralise(row.assignee),
        neutralise(row.accepted_by),
        _time(errand.created_at, zone),
        _time(errand.accepted_at, zone),
        _time(errand.delivered_at, zone),
        neutralise(errand.delivery_note or ""),
        neutralise(errand.cancel_reason or ""),
    ]


def record_export(
    session: Session, *, community_id: int, rows: int, actor: str, user_id: int | None = None
) -> None:
    """Record that ``actor`` exported ``rows`` errands (``errand.export``)."""
    record_event(
        session,
        actor=actor[:64],
        action="errand.export",
        community_id=community_id,
        user_id=user_id,
        subject_type="errand",
        details={"rows": rows},
    )
    session.flush()
