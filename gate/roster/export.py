"""The roster as an Excel workbook (排班表.xlsx): one row per shift, in the community's local
time, with the people on it and whether it is covered (a label and its code in separate
columns, as every export of the office). Audited as ``roster.export``."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.roster.queries import ShiftView, community_zone, day_span, shifts_between

HEADERS = (
    ("班次编号", 10),
    ("出入口", 14),
    ("日期", 12),
    ("星期", 6),
    ("开始", 8),
    ("结束", 8),
    ("志愿者", 36),
    ("主管", 18),
    ("需主管", 8),
    ("状态", 12),
    ("状态代码", 14),
)
WEEKDAYS = "一二三四五六日"
STATUS_ZH = {None: "已安排", "nobody": "无人值守", "no_supervisor": "缺主管"}
_GAP_FILL = PatternFill("solid", fgColor="FDE2E1")


def _cell(text: str) -> str:
    # A name typed as "=..." must stay text, never become a formula in the clerk's Excel.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def shift_row(view: ShiftView, zone: ZoneInfo) -> list[object]:
    """One shift as the export's cells (local times; ``24:00`` style ends are next day)."""
    starts = view.starts_at.astimezone(zone)
    ends = view.ends_at.astimezone(zone)
    end_text = f"{ends:%H:%M}" if ends.date() == starts.date() else f"次日{ends:%H:%M}"
    return [
        view.id,
        _cell(view.gate_name),
        starts.date().isoformat(),
        WEEKDAYS[starts.weekday()],
        f"{starts:%H:%M}",
        end_text,
        "、".join(_cell(p.name) for p in view.volunteers),
        "、".join(_cell(p.name) for p in view.supervisors),
        "是" if view.needs_supervisor else "否",
        STATUS_ZH[view.gap],
        view.gap or "covered",
    ]


def export_roster(
    session: Session,
    *,
    community_id: int,
    first_day: date,
    days: int,
    actor: str,
    now: datetime,
    gate_id: int | None = None,
) -> bytes:
    """The shifts of ``days`` days from ``first_day`` as XLSX bytes (uncovered rows shaded).
    Audited as ``roster.export``."""
    zone = community_zone(session, community_id)
    start, end = day_span(first_day, zone, days=days)
    views = shifts_between(session, community_id, start, end, gate_id=gate_id)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "排班表"
    sheet.append([title for title, _width in HEADERS])
    for index, (_title, width) in enumerate(HEADERS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.cell(row=1, column=index).font = Font(bold=True)
    for view in views:
        sheet.append(shift_row(view, zone))
        if view.gap is not None:
            for cell in sheet[sheet.max_row]:
                cell.fill = _GAP_FILL
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    record_event(
        session,
        actor=actor,
        action="roster.export",
        community_id=community_id,
        subject_type="roster",
        details={
            "first_day": first_day.isoformat(),
            "days": days,
            "shifts": len(views),
            "at": now.isoformat(),
        },
    )
    return out.getvalue()
