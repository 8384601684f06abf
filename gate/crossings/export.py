"""Exporting the crossing log to CSV or XLSX for the office and for auditors, streamed: the
one writer behind the log page's export and ``checkpoint crossings export``.

Rows are read with ``yield_per`` (a server-side cursor on PostgreSQL; SQLite's cursor is lazy
anyway) and written as they come: CSV in chunks of lines, XLSX through openpyxl's write-only
workbook (rows go to a temporary file, the zip is assembled at the end). Memory does not grow
with the number of rows. Reading needs no write transaction: entry points run it in a
read-only unit of work, and record the export with :func:`record_export` in a short writing
one (so an export never holds SQLite's write lock while it reads).

Cells are what an office opens in Excel: Chinese headers, times in the community's zone,
UTF-8 with a BOM for CSV (Excel reads BOM-less CSV as the ANSI code page), and every text
cell that Excel would read as a formula (``= + - @``, tab, CR) prefixed with ``'`` so a
crafted operator name or override reason cannot run anything (CSV injection). XLSX sets
column widths and continues on a new sheet at Excel's row limit.
The head of household's name is masked (``张*``) unless ``unmasked``.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.accounts.operations import find_user
from gate.accounts.passwords import burn_time, verify_password
from gate.audit.operations import record_event
from gate.crossings.export_csv import csv_chunks, pg_csv_chunks, subject_zh
from gate.crossings.log_filters import LogFilter, filtered
from gate.crossings.models import Crossing
from gate.devices.models import Gate
from gate.households.models import Household, Member
from gate.households.operations import HEAD_FIRST
from gate.households.validation import mask_name
from passes import Code, Direction
from passes import reason as verdict_reason

Format = Literal["csv", "xlsx"]

HEADERS = (
    "时间",
    "出入口",
    "出入口代码",
    "方向",
    "方向代码",
    "户编号",
    "户主",
    "体温",
    "结果",
    "原因",
    "原因代码",
    "离线",
    "冲突",
    "超时返回",
    "操作员",
    "放行人",
    "放行原因",
    "规则版本",
    "流水号",
    "哈希",
    "人数",
    "类别",
    "车牌",
)
_WIDTHS = (20, 10, 10, 6, 8, 12, 10, 7, 7, 24, 16, 6, 6, 8, 12, 10, 20, 9, 9, 66, 6, 10, 10)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_YIELD_PER = 2000
_PROGRESS_EVERY = 10_000
_CSV_CHUNK_ROWS = 500
_XLSX_MEMORY = 8 * 1024 * 1024
_CHUNK = 64 * 1024
XLSX_MAX_ROWS = 1_048_576
"""Excel's row limit per sheet; longer exports continue on a new sheet."""


OTHER_REASONS: dict[str, str] = {
    "clock_backwards": "记录时间早于设备时钟",
    "rejected_upload": "扫码设备上传的记录无法读取",
    "scanned_at_future": "记录时间晚于当前时间（设备时钟偏快）",
    "scanned_before_enrolment": "记录时间早于设备启用",
}
"""Chinese reasons of the codes a crossing may carry besides :class:`passes.Code` (the same
words as the console's labels, ``gate.web.labels.EXTRA_CODE_LABELS``, in Chinese)."""

DIRECTION_LABELS = {Direction.OUT: "外出", Direction.IN: "进入"}


def reason_zh(code: str | None) -> str:
    """The Chinese reason of a stored verdict or rejection code ("" for none; an unknown code
    as stored)."""
    if not code:
        return ""
    try:
        return verdict_reason(Code(code), "zh")
    except ValueError:
        return OTHER_REASONS.get(code, code)


def neutralise(text: str) -> str:
    """``text`` safe for a spreadsheet cell: a leading ``'`` if Excel would see a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


EXPORT = "crossings.export"
EXPORT_UNMASKED = "crossings.export_unmasked"
"""The audit actions of a masked and of an unmasked export, whoever takes it."""


def export_query(log_filter: LogFilter) -> Select[Any]:
    """The rows of an export: the filtered crossings with gate name and code, household code
    and head of household's name, in scan order."""
    head_name = (
        select(Member.name)
        .where(Member.household_id == Crossing.household_id)
        .order_by(*HEAD_FIRST)
        .limit(1)
        .correlate(Crossing)
        .scalar_subquery()
    )
    query = (
        select(
            Crossing.scanned_at,
            Gate.name,
            Gate.code,
            Crossing.direction,
            Household.code,
            head_name,
            Crossing.temperature_tenths,
            Crossing.allowed,
            Crossing.code,
            Crossing.offline,
            Crossing.conflict,
            Crossing.flags,
            Crossing.operator,
            Crossing.override_supervisor,
            Crossing.override_reason,
            Crossing.rule_version,
            Crossing.gate_seq,
            Crossing.row_hash,
            Crossing.people,
            Crossing.subject,
            Crossing.plate,
        )
        .join(Gate, Gate.id == Crossing.gate_id)
        .outerjoin(Household, Household.id == Crossing.household_id)
    )
    return filtered(query, log_filter).order_by(Crossing.scanned_at, Crossing.id)


class ExportRefused(Exception):
    """An export the named account may not take. ``code``: ``no_such_user`` (unknown,
    disabled or of another community), ``not_admin`` (an unmasked export needs an admin) or
    ``bad_password`` (an unmasked export needs the admin's own password, which did not
    match); ``username`` names the account."""

    def __init__(self, code: str, username: str) -> None:
        super().__init__(code, username)
        self.code = code
        self.username = username


def export_account(
    session: Session,
    community_id: int,
    username: str,
    *,
    unmasked: bool,
    password: str | None = None,
) -> User:
    """The active account ``username`` of the community taking an export.

    Raises :class:`ExportRefused`; an unmasked export MUST be taken by an admin who proves
    it with the account's password (verified with argon2 here, before the caller reads any
    row): a name alone is not a credential.
    """
    user = find_user(session, username)
    if user is None or user.disabled_at is not None or user.community_id != community_id:
        if unmasked and password:
            burn_time(password)  # the same time as a wrong password: names are not probed
        raise ExportRefused("no_such_user", username)
    if unmasked and user.role is not Role.ADMIN:
        raise ExportRefused("not_admin", username)
    if unmasked and not (password and verify_password(user.password_hash, password)):
        raise ExportRefused("bad_password", username)
    return user


def record_export(
    session: Session,
    log_filter: LogFilter,
    *,
    fmt: Format,
    unmasked: bool,
    rows: int,
    actor: str,
    user_id: int | None = None,
    file: str | None = None,
) -> None:
    """Record one export of ``rows`` crossings in the audit log (flushes): the same action
    and details whichever entry point took it. Every export MUST be recorded, an unmasked
    one (:data:`EXPORT_UNMASKED`) above all."""
    gate = session.get(Gate, log_filter.gate_id) if log_filter.gate_id is not None else None
    record_event(
        session,
        actor=actor,
        action=EXPORT_UNMASKED if unmasked else EXPORT,
        community_id=log_filter.community_id,
        user_id=user_id,
        subject_type="community",
        subject_id=log_filter.community_id,
        details={
            **log_filter.audit_details(),
            "gate": None if gate is None else gate.code,
            "format": fmt,
            "masked": not unmasked,
            "rows": rows,
            "file": file,
        },
    )
    session.flush()


def export_crossings(
    session: Session,
    log_filter: LogFilter,
    *,
    fmt: Format,
    out: BinaryIO,
    unmasked: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write the crossings matching ``log_filter`` to ``out``; return the count.

    Read-only (the caller records the export with :func:`record_export`). ``out`` is left
    open. ``on_progress`` gets the number of rows written every 10,000 rows and at the end.
    """
    counted = _Progress(on_progress)
    if fmt == "csv":
        for chunk in _fast_csv(session, log_filter, unmasked=unmasked, on_rows=counted.reached):
            out.write(chunk)
        written = counted.rows
    elif fmt == "xlsx":
        cells = counted.wrap(_cells(session, log_filter, unmasked=unmasked))
        written = _write_xlsx(cells, out)
    else:
        raise ValueError(f"unknown export format {fmt!r}: use csv or xlsx")
    counted.done()
    return written


def stream_export(
    session: Session, log_filter: LogFilter, *, fmt: Format, unmasked: bool = False
) -> Iterator[bytes]:
    """The export as chunks of bytes, for an HTTP response (read-only).

    CSV is produced while it is sent. XLSX can only be zipped once every row is in, so the
    workbook is built into a temporary file (memory up to 8 MiB, then disk) when this is
    called, before the first byte, and then sent in chunks.
    """
    if fmt == "csv":
        return _fast_csv(session, log_filter, unmasked=unmasked)
    cells = _cells(session, log_filter, unmasked=unmasked)
    if fmt != "xlsx":
        raise ValueError(f"unknown export format {fmt!r}: use csv or xlsx")
    spool = tempfile.SpooledTemporaryFile(max_size=_XLSX_MEMORY)  # noqa: SIM115 (closed below)
    try:
        _write_xlsx(cells, spool)  # type: ignore[arg-type]  # a binary file, as save() needs
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := spool.read(_CHUNK):
                yield chunk
        finally:
            spool.close()

    return chunks()


def _fast_csv(
    session: Session,
    log_filter: LogFilter,
    *,
    unmasked: bool,
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The CSV export (``gate.crossings.export_csv``: the cells of :func:`export_cells`,
    made without per-row repeated work)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_csv_chunks(
            session,
            log_filter,
            unmasked=unmasked,
            headers=HEADERS,
            reasons={**OTHER_REASONS, **{code.value: reason_zh(code.value) for code in Code}},
            directions=DIRECTION_LABELS,
            on_rows=on_rows,
        )
    return csv_chunks(
        session,
        log_filter,
        unmasked=unmasked,
        headers=HEADERS,
        reason=reason_zh,
        directions=DIRECTION_LABELS,
        on_rows=on_rows,
    )


def _cells(session: Session, log_filter: LogFilter, *, unmasked: bool) -> Iterator[list[Any]]:
    rows = session.execute(export_query(log_filter), execution_options={"yield_per": _YIELD_PER})
    return export_cells(rows, ZoneInfo(log_filter.timezone), unmasked=unmasked)


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

    def reached(self, rows: int) -> None:
        """``rows`` written so far (a chunk at a time): progress at every 10,000."""
        before, self.rows = self.rows, rows
        step = _PROGRESS_EVERY
        if self.on_progress is not None and rows // step > before // step:
            self.on_progress(rows // step * step if rows % step else rows)

    def done(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.rows)


def export_cells(rows: Any, zone: ZoneInfo, *, unmasked: bool) -> Iterator[list[Any]]:
    """Typed cells of :data:`HEADERS` for rows of :func:`export_query`: local naive datetime,
    ints, a float temperature, text (not yet escaped: see :func:`cell_text`). Each code comes
    with its Chinese label in the column before it (出入口/出入口代码, 方向/方向代码,
    原因/原因代码)."""
    for (
        scanned_at,
        gate_name,
        gate_code,
        direction,
        household_code,
        head,
        tenths,
        allowed,
        code,
        offline,
        conflict,
        flags,
        operator,
        supervisor,
        reason,
        rule_version,
        gate_seq,
        row_hash,
        people,
        subject,
        plate,
    ) in rows:
        yield [
            scanned_at.astimezone(zone).replace(tzinfo=None),
            gate_name or gate_code,
            gate_code,
            DIRECTION_LABELS[Direction(direction)],
            Direction(direction).value,
            household_code or "",
            (head if unmasked else mask_name(head)) or "",
            None if tenths is None else tenths / 10,
            "通过" if allowed else "禁止",
            reason_zh(code),
            code or "",
            "是" if offline else "否",
            "是" if conflict else "否",
            "是" if Code.RETURNED_LATE.value in (flags or "").split() else "否",
            operator or "",
            supervisor or "",
            reason or "",
            rule_version,
            gate_seq,
            row_hash,
            people or 1,  # persons on the pass (rows from before the column: one)
            subject_zh(subject),
            plate or "",
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


def _csv_chunks(rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM, in chunks of a few hundred lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADERS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([cell_text(value) for value in row])
        if count % _CSV_CHUNK_ROWS == 0:
            yield _take(buffer)
    yield _take(buffer)


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


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
