"""Everything stored about one household, as a workbook, for an access request.

One sheet per table that holds the household's data: the household row itself (住户), its
members (成员: names, phones and ID numbers masked unless the office exports unmasked; ID
numbers are sealed at rest and always shown masked as "sealed"), then every table with a
foreign key to ``households`` (passes and their phone links, crossings with temperatures,
status history, and whatever other features add), found through the schema so that a new
table is exported without this module changing; and the office's audit events about the
household (办公室操作记录). Every export is audited
(``privacy.export`` / ``privacy.export_unmasked``).
"""

from __future__ import annotations

import enum
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.audit.operations import record_event
from gate.crossings.export import neutralise
from gate.db import Base
from gate.households.fields import mask_name, mask_phone
from gate.households.models import Household, Member
from gate.households.queries import household_by_code
from gate.privacy.retention import PrivacyError

SHEET_TITLES = {
    "households": "住户",
    "members": "成员",
    "passes": "出入证",
    "crossings": "出入记录",
    "household_status_changes": "状态变更",
    "audit_events": "办公室操作记录",
    "import_uploads": "待导入的住户表文件",
    "errands": "代购代办",
}
"""Sheet titles of the tables known today; other tables keep their table name."""
_MEMBER_COLUMNS = ("姓名", "电话", "身份证号", "户主", "与户主关系")
_SKIPPED = frozenset({"id_number_hash", "resident_link_token_hash", "prev_hash", "row_hash"})
"""Keys and hashes: of no use to the resident, and not personal data in themselves."""


def export_household(
    session: Session,
    community_id: int,
    code: str,
    *,
    unmasked: bool,
    actor: str,
    user_id: int | None = None,
) -> tuple[bytes, dict[str, int]]:
    """The workbook (XLSX bytes) of household ``code`` and its rows per sheet; audited.

    Raises :class:`PrivacyError` ``no_household``.
    """
    household = household_by_code(session, community_id, code)
    if household is None:
        raise PrivacyError("no_household")
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        _sheet_of(session, Household.__table__, Household.id == household.id),  # type: ignore[arg-type]
        ("成员", list(_MEMBER_COLUMNS), list(_member_rows(household, unmasked))),
    ]
    for table, column in _referring_tables():
        sheets.append(_sheet_of(session, table, column == household.id))
    events = AuditEvent.__table__
    sheets.append(
        _sheet_of(
            session,
            events,  # type: ignore[arg-type]
            (events.c.community_id == community_id)
            & (events.c.subject_type == "household")
            & (events.c.subject_id == household.code),
        )
    )
    counts = {title: len(rows) for title, _, rows in sheets}
    record_event(
        session,
        actor=actor,
        action="privacy.export_unmasked" if unmasked else "privacy.export",
        community_id=community_id,
        user_id=user_id,
        subject_type="household",
        subject_id=household.code,
        details={"masked": not unmasked, "rows": counts},
    )
    session.flush()
    return _workbook(sheets), counts


def _member_rows(household: Household, unmasked: bool) -> Iterator[list[Any]]:
    for member in household.members:
        yield _member_row(member, unmasked)


def _member_row(member: Member, unmasked: bool) -> list[Any]:
    name = member.name if unmasked else mask_name(member.name)
    phone = (member.phone or "") if unmasked else mask_phone(member.phone)
    sealed = "已加密保存" if member.id_number else ""
    relation = "" if member.relation is None else str(member.relation.value)
    return [name, phone, sealed, "是" if member.is_head else "否", relation]


def _referring_tables() -> Iterable[tuple[Table, Any]]:
    for table in Base.metadata.sorted_tables:
        if table.name in {"households", "members"}:
            continue
        for key in table.foreign_keys:
            if key.column.table.name == "households":
                yield table, key.parent


def _sheet_of(session: Session, table: Table, where: Any) -> tuple[str, list[str], list[list[Any]]]:
    columns = [column for column in table.columns if column.name not in _SKIPPED]
    rows = session.execute(select(*columns).where(where)).all()
    title = SHEET_TITLES.get(table.name, table.name)[:31]
    return title, [column.name for column in columns], [[_cell(v) for v in row] for row in rows]


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return str(value.value)
    return neutralise(str(value))


def _workbook(sheets: list[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
