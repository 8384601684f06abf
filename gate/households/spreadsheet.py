"""Read the office's household spreadsheet (.xlsx or .csv) as a stream of raw text rows.

Contract of :func:`read_rows`:

- The header is found in the first ``HEADER_SEARCH_ROWS`` rows (normally row 1; a title row above
  it is tolerated). Headers are the Chinese names of the office template or the English keys;
  spaces, ``*`` markers and a trailing ``(...)`` are ignored when matching.
- A missing required column raises :class:`SheetError` naming every missing column; unknown
  columns are ignored and reported in :attr:`SheetRows.warnings`.
- Each data row comes out as ``(row_number, {key: text})`` where ``row_number`` is the number the
  spreadsheet program shows (the header is row 1 in the template) and every value is a ``str``,
  stripped of whitespace including full-width spaces. Blank rows are skipped; row numbers never
  shift.
- Excel number quirks are undone only where lossless: an integral number cell becomes its digits
  (``13800138000.0`` -> ``"13800138000"``); numbers beyond Excel's 15 significant digits, and
  scientific-notation text whose digits were cut (``"1.38E+10"`` in a CSV), are passed through
  unchanged so that validation rejects them instead of importing a wrong phone or ID number.
- Date cells become ISO text (``"2026-11-30"``); date *text* is parsed later by validation.
- Rows are streamed: the file is read incrementally and memory does not grow with the row count
  (for .xlsx openpyxl keeps the workbook's shared-string table in memory).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import os
import re
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Literal
from xml.etree import ElementTree

from gate.errors import N_

__all__ = [
    "COLUMNS",
    "ERROR_COLUMN",
    "EXAMPLE_ROWS",
    "HEADER_SEARCH_ROWS",
    "HOUSEHOLD_KEYS",
    "N_",
    "SHEET_MESSAGES",
    "Column",
    "SheetError",
    "SheetRows",
    "SheetWarning",
    "Source",
    "read_rows",
]


@dataclass(frozen=True)
class Column:
    """One column of the household sheet: its key, template header and accepted aliases."""

    key: str
    header_zh: str
    required: bool
    help_zh: str
    aliases: tuple[str, ...] = ()
    width: float = 12
    text_format: bool = False  # stored as text in the template so Excel keeps leading digits


COLUMNS: tuple[Column, ...] = (
    Column("household_code", "户编号", True,
           "每户唯一，如 楼栋-单元-房号：3-2-401；同一户的家庭成员各占一行，户编号相同",
           ("户号", "household code"), 14),
    Column("area", "片区", False, "所属片区，可空（社区只有一个片区时不用填）", ("area name",), 10),
    Column("grid", "网格", False, "所属网格，可空（片区只有一个网格时不用填）", ("网格名称",), 10),
    Column("compound", "小区", False, "所属小区（院落），可空（网格只有一个小区时不用填）",
           ("院落", "小区名称", "小区/院落", "小区（院落）", "compound"), 12),
    Column("building", "楼栋", True, "楼栋号，如 3（写 3号楼、3栋、三号楼 也可以）",
           ("楼号", "楼栋号"), 8),
    Column("unit", "单元", False, "单元号，可空（写 2 或 2单元 均可）", ("单元号",), 8),
    Column("room", "房号", True, "房号，如 401（写 401室 也可以）", ("房间号", "门牌号"), 8),
    Column("head_name", "姓名", True, "户主或家庭成员的姓名，每人一行",
           ("户主姓名", "户主", "成员姓名", "name", "head"), 12),
    Column("relation", "与户主关系", False,
           "户主 / 配偶 / 子女 / 父母 / 其他；每户第一行空着即为户主，其余成员必填",
           ("关系", "与户主的关系", "relation"), 10),
    Column("phone", "联系电话", True,
           "11 位手机号，或带区号的固定电话如 0595-12345678；户主行必填，成员可空",
           ("手机号", "手机号码", "电话", "联系方式", "mobile"), 16, True),
    Column("id_number", "身份证号", False, "18 位居民身份证号，可空；末位 X 大小写均可",
           ("身份证", "身份证号码", "id", "id number", "id_no"), 22, True),
    Column("members", "人数", False, "本户居住人数，整数，填在户主行；空则按所列人数",
           ("家庭人数", "户内人数", "member count", "head count"), 6),
    Column("status", "状态", False, "正常 / 居家隔离 / 豁免，填在户主行，空则为正常",
           ("户状态",), 10),
    Column("quarantine_until", "隔离截止", False,
           "居家隔离户必填，如 2026-11-30（也可写 2026/11/30 或 2026年11月30日）",
           ("隔离截止日期", "隔离至", "quarantine until"), 12),
    Column("note", "备注", False, "备注，可空", ("remarks", "remark"), 24),
    Column("plates", "车牌号", False,
           "本户车辆的车牌，可空；多辆用顿号分开，如 鲁E12345、鲁ED12345（新能源）",
           ("车牌", "车牌号码", "机动车号牌", "plate", "plates"), 18),
)  # fmt: skip

HOUSEHOLD_KEYS = (
    "compound", "area", "grid", "building", "unit", "room", "members", "status",
    "quarantine_until",
)  # fmt: skip
"""Columns that describe the household: on a member's row they may stay empty."""

# Household codes of the template's example rows; validation refuses them so a forgotten
# example is never imported as a real household.
EXAMPLE_ROWS: tuple[dict[str, str], ...] = (
    {
        "household_code": "示例-3-2-401", "area": "一片区", "grid": "第3网格",
        "compound": "幸福小区", "building": "3", "unit": "2", "room": "401",
        "head_name": "张三", "relation": "户主", "phone": "13800138000",
        "id_number": "11010519491231002X", "members": "3", "status": "正常",
        "quarantine_until": "", "note": "示例行，导入前请删除", "plates": "鲁E12345、鲁ED12345",
    },
    {
        "household_code": "示例-3-2-401", "area": "", "grid": "", "compound": "",
        "building": "", "unit": "", "room": "", "head_name": "王芳", "relation": "配偶",
        "phone": "13900139000", "id_number": "", "members": "", "status": "",
        "quarantine_until": "", "note": "示例行：同一户的成员，户的信息可不再填写", "plates": "",
    },
    {
        "household_code": "示例-3-2-402", "area": "一片区", "grid": "第3网格",
        "compound": "幸福小区", "building": "3", "unit": "2", "room": "402",
        "head_name": "李四", "relation": "", "phone": "0595-12345678", "id_number": "",
        "members": "2", "status": "居家隔离", "quarantine_until": "2026-11-30",
        "note": "示例行，导入前请删除", "plates": "",
    },
)  # fmt: skip

HEADER_SEARCH_ROWS = 10
PROGRESS_EVERY = 500
ERROR_COLUMN = "错误原因"
"""The column the bad-rows download adds; read back without a warning and ignored."""
_IGNORED_HEADERS = frozenset({ERROR_COLUMN})
_DIGIT_KEYS = frozenset({"phone", "id_number"})
_EXCEL_MAX_EXACT = 10**15  # Excel keeps 15 significant digits; beyond that digits are lost
_EXTRA_STRIP = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters and stray BOMs

Source = str | os.PathLike[str] | bytes | IO[bytes]
"""A path, the file's bytes, or a seekable binary stream (not closed by this module)."""


SHEET_MESSAGES: dict[str, str] = {
    "unsupported_old_format": N_(
        "Old Excel (.xls) and WPS files are not supported: save the file as .xlsx or CSV and "
        "import that."
    ),
    "unsupported_format": N_(
        "Files of type %(suffix)s are not supported: upload an .xlsx or .csv file."
    ),
    "empty": N_("The file is empty: it has no header row."),
    "no_worksheet": N_("The workbook has no worksheet."),
    "duplicate_column": N_(
        "The header columns %(first)s and %(second)s are the same column: delete one of them."
    ),
    "missing_columns": N_(
        "The header on row %(row)d lacks required columns: %(columns)s. Use the import "
        "template's header."
    ),
    "unreadable": N_("The file cannot be opened: %(reason)s"),
    "bad_xlsx": N_(
        "The file is not a valid .xlsx (perhaps an old .xls, a password-protected file or a "
        "renamed file): save it as .xlsx in Excel."
    ),
    "damaged_xlsx": N_(
        "This .xlsx file cannot be read; it may be damaged: open it in Excel and save it again."
    ),
    "damaged_xlsx_at_row": N_(
        "This .xlsx file cannot be read (the error came at row %(row)d); it may be damaged: "
        "open it in Excel and save it again."
    ),
    "bad_encoding": N_(
        "The CSV file's encoding is not recognised: save it in Excel as 'CSV UTF-8' or .xlsx."
    ),
    "utf16": N_("This is a Unicode (UTF-16) text file: save it in Excel as 'CSV UTF-8' or .xlsx."),
    "bad_csv": N_("Row %(row)d of the CSV file is malformed: %(reason)s"),
    "header_not_first_row": N_("The header is on row %(row)d; the rows above it were ignored."),
    "unknown_column": N_("These columns were not recognised and were ignored: %(columns)s"),
}
"""The English message id of each sheet error and warning (``message`` key: its ``params``)."""


@dataclass(frozen=True)
class SheetWarning:
    """Something the office should know that does not stop the import: a stable ``code``
    and the ``params`` of its message (entry points translate ``message_id``)."""

    code: Literal["unknown_column", "header_not_first_row"]
    params: dict[str, str | int] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        return SHEET_MESSAGES[self.code]

    @property
    def message(self) -> str:
        """The untranslated English text (logs, tests)."""
        return self.message_id % self.params if self.params else self.message_id


class SheetError(ValueError):
    """The file cannot be read as a household sheet; nothing from it may be imported.

    ``code`` is stable (``bad_xlsx``, ``missing_columns``, ...); ``message_id`` (an English
    msgid, :data:`SHEET_MESSAGES`) with ``params`` is what entry points translate;
    :attr:`message` is the untranslated English text.
    """

    def __init__(
        self,
        code: str,
        /,
        *,
        message: str | None = None,
        missing: Sequence[str] = (),
        **params: str | int,
    ) -> None:
        self.code = code
        self.params = params
        self.message_id = SHEET_MESSAGES[message or code]
        self.message = self.message_id % params if params else self.message_id
        self.missing: tuple[str, ...] = tuple(missing)
        super().__init__(self.message)


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().strip(_EXTRA_STRIP)
    text = re.sub(r"\([^)]*\)$", "", text).replace("*", "")
    return re.sub(r"[\s\-]+", "_", text.strip()).lower()


_HEADER_INDEX: dict[str, str] = {}
for _col in COLUMNS:
    for _name in (_col.header_zh, _col.key, *_col.aliases):
        _HEADER_INDEX.setdefault(_header_key(_name), _col.key)


@dataclass
class SheetRows:
    """Iterator over ``(row_number, {key: text})``; single use. Close it if you stop early."""

    format: Literal["xlsx", "csv"]
    header_row: int
    columns: dict[str, str]  # key -> header text as written in the file
    warnings: list[SheetWarning]
    encoding: str | None = None  # csv only: "utf-8-sig" or "gb18030"
    sheet_name: str | None = None  # xlsx only
    estimated_rows: int | None = None  # data rows declared by the xlsx file; may be wrong
    _rows: Generator[tuple[int, dict[str, str]], None, None] | None = field(
        default=None, repr=False
    )

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        return self

    def __next__(self) -> tuple[int, dict[str, str]]:
        if self._rows is None:
            raise StopIteration
        return next(self._rows)

    def close(self) -> None:
        """Release the file; further iteration yields nothing."""
        if self._rows is not None:
            self._rows.close()
            self._rows = None

    def __enter__(self) -> SheetRows:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_rows(
    path_or_bytes: Source,
    filename: str,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> SheetRows:
    """Open a household sheet and read its header; rows are read lazily while iterating.

    ``filename`` decides the format by its extension (.xlsx/.xlsm or .csv/.txt). Raises
    :class:`SheetError` for an unreadable file, an unsupported format or encoding, or missing
    required columns. ``on_progress(rows_read)`` is called every few hundred rows and once at the
    end, with the number of sheet rows read below the header (blank rows included).
    """
    suffix = check_sheet_name(filename)
    meta = _Meta()
    if suffix in {".xlsx", ".xlsm"}:
        raw = _xlsx_cells(path_or_bytes, meta)
    else:
        raw = _csv_cells(path_or_bytes, meta)
    try:
        header_row, header = _find_header(raw)
        columns, index, sheet_warnings = _map_header(header, header_row)
    except BaseException:
        raw.close()
        raise
    return SheetRows(
        format=meta.format,
        header_row=header_row,
        columns=columns,
        warnings=sheet_warnings,
        encoding=meta.encoding,
        sheet_name=meta.sheet_name,
        estimated_rows=None if meta.max_row is None else max(0, meta.max_row - header_row),
        _rows=_data_rows(raw, index, on_progress),
    )


@dataclass
class _Meta:
    """Filled in by a format reader before it yields its first row."""

    format: Literal["xlsx", "csv"] = "csv"
    encoding: str | None = None
    sheet_name: str | None = None
    max_row: int | None = None


# A format reader yields (row_number, cells) for every sheet row, header included.
_CellRows = Generator[tuple[int, list[str]], None, None]


def check_sheet_name(filename: str) -> str:
    """The lower-case extension of ``filename`` if :func:`read_rows` reads that type
    (.xlsx/.xlsm or .csv/.txt); else raise :class:`SheetError` ``unsupported_format`` (for an
    old Excel or WPS file with the message to save it as .xlsx). For checking an upload
    before it is stored."""
    suffix = os.path.splitext(filename)[1].lower()
    if suffix in {".xlsx", ".xlsm", ".csv", ".txt"}:
        return suffix
    if suffix in {".xls", ".et", ".wps"}:
        raise SheetError("unsupported_format", message="unsupported_old_format")
    raise SheetError("unsupported_format", suffix=suffix or filename)


def _find_header(raw: _CellRows) -> tuple[int, list[str]]:
    # Without a recognisable header the first non-blank row is returned only so that the
    # missing-columns error can name what is missing (five required columns cannot all match).
    first: tuple[int, list[str]] | None = None
    for number, cells in raw:
        if not any(cells):
            continue
        first = first or (number, cells)
        if sum(_header_key(c) in _HEADER_INDEX for c in cells) >= 2:
            return number, cells
        if number >= HEADER_SEARCH_ROWS:
            break
    if first is None:
        raise SheetError("empty")
    return first


def _map_header(
    header: list[str], header_row: int
) -> tuple[dict[str, str], dict[str, int], list[SheetWarning]]:
    columns: dict[str, str] = {}
    index: dict[str, int] = {}
    unknown: list[str] = []
    for position, text in enumerate(header):
        key = _HEADER_INDEX.get(_header_key(text))
        if key is None:
            if text and text.strip() not in _IGNORED_HEADERS:
                unknown.append(text)
        elif key in index:
            raise SheetError("duplicate_column", first=columns[key], second=text)
        else:
            columns[key], index[key] = text, position
    missing = [c for c in COLUMNS if c.required and c.key not in index]
    if missing:
        # The template's headers are Chinese whatever the page's language: name them so.
        raise SheetError(
            "missing_columns",
            row=header_row,
            columns="、".join(c.header_zh for c in missing),
            missing=[c.key for c in missing],
        )
    found: list[SheetWarning] = []
    if header_row != 1:
        found.append(SheetWarning("header_not_first_row", {"row": header_row}))
    if unknown:
        found.append(SheetWarning("unknown_column", {"columns": "、".join(unknown)}))
    return columns, index, found


def _data_rows(
    raw: _CellRows, index: dict[str, int], on_progress: Callable[[int], None] | None
) -> Generator[tuple[int, dict[str, str]], None, None]:
    rows_read = 0
    try:
        for number, cells in raw:
            rows_read += 1
            if on_progress is not None and rows_read % PROGRESS_EVERY == 0:
                on_progress(rows_read)
            if not any(cells):
                continue
            values = {key: cells[pos] if pos < len(cells) else "" for key, pos in index.items()}
            for key in _DIGIT_KEYS & values.keys():
                values[key] = _numeric_text_to_digits(values[key])
            yield number, values
        if on_progress is not None:
            on_progress(rows_read)
    finally:
        raw.close()


def clean_text(text: str) -> str:
    """Strip whitespace (including full-width spaces) and zero-width characters."""
    return text.strip().strip(_EXTRA_STRIP).strip()


_SCIENTIFIC = re.compile(r"^([1-9])(?:\.(\d+))?[eE]\+?(\d{1,2})$")


def _numeric_text_to_digits(text: str) -> str:
    """Undo ``"13800138000.0"`` and fully spelled ``"1.3800138E+10"``; keep lossy forms."""
    if re.fullmatch(r"\d+\.0+", text):
        return text.split(".", 1)[0]
    match = _SCIENTIFIC.match(text)
    if match:
        lead, fraction, exponent = match.group(1), match.group(2) or "", int(match.group(3))
        if len(fraction) == exponent:  # every digit is written out: nothing was rounded away
            return lead + fraction
    return text


def cell_text(value: object) -> str:
    """Text of one cell value as openpyxl returns it (see the module contract)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXCEL_MAX_EXACT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return clean_text(str(value))


def _open_binary(source: Source) -> tuple[IO[bytes], bool]:
    """Return a binary stream at its start and whether we own (must close) it."""
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source), True
    if isinstance(source, str | os.PathLike):
        try:
            return open(source, "rb"), True  # closed by the row generator
        except OSError as exc:
            raise SheetError("unreadable", reason=exc.strerror or str(exc)) from exc
    source.seek(0)
    return source, False


def _xlsx_cells(source: Source, meta: _Meta) -> _CellRows:
    from openpyxl import load_workbook

    stream, owned = _open_binary(source)
    magic = stream.read(4)
    stream.seek(0)
    try:
        if magic != b"PK\x03\x04":
            raise SheetError("bad_xlsx")
        try:
            with warnings.catch_warnings():
                # openpyxl warns about styles/extensions it drops; they do not affect values.
                warnings.simplefilter("ignore", UserWarning)
                workbook = load_workbook(stream, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged package
            raise _damaged_xlsx(exc) from exc
    except BaseException:
        if owned:
            stream.close()
        raise
    number = 0
    try:
        sheet = _pick_sheet(workbook)
        declared = sheet.max_row
        sheet.reset_dimensions()  # the declared range is often wrong; read every stored row
        meta.format, meta.sheet_name, meta.max_row = "xlsx", sheet.title, declared
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(v) for v in values]
    except _XLSX_DAMAGE as exc:
        raise _damaged_xlsx(exc, number + 1) from exc
    finally:
        workbook.close()
        if owned:
            stream.close()


_XLSX_DAMAGE = (
    ElementTree.ParseError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    ValueError,
)


def _damaged_xlsx(exc: BaseException, row: int | None = None) -> SheetError:
    # ``exc`` is chained by the caller (``raise ... from exc``) for the logs.
    if row:
        return SheetError("bad_xlsx", message="damaged_xlsx_at_row", row=row)
    return SheetError("bad_xlsx", message="damaged_xlsx")


def _pick_sheet(workbook: Any) -> Any:
    """The first worksheet whose top rows hold a recognisable header, else the first one."""
    sheets = [s for s in workbook.worksheets if hasattr(s, "iter_rows")]
    if not sheets:
        raise SheetError("empty", message="no_worksheet")
    for sheet in sheets:
        top = sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)
        try:
            if any(sum(_header_key(cell_text(v)) in _HEADER_INDEX for v in r) >= 2 for r in top):
                return sheet
        finally:
            top.close()
    return sheets[0]


_CHUNK = 1 << 16


def _detect_encoding(stream: IO[bytes]) -> str:
    """UTF-8 (BOM optional) if the whole file decodes strictly, else GB18030 (superset of GBK)."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        stream.seek(0)
        try:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        stream.seek(0)
        return encoding
    raise SheetError("bad_encoding")


def _csv_cells(source: Source, meta: _Meta) -> _CellRows:
    stream, owned = _open_binary(source)
    text: io.TextIOWrapper | None = None
    try:
        if stream.read(2) in {b"\xff\xfe", b"\xfe\xff"}:
            raise SheetError("bad_encoding", message="utf16")
        encoding = _detect_encoding(stream)
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        meta.format, meta.encoding = "csv", encoding
        first_line = text.readline()
        # Excel honours a first line "sep=;" naming the delimiter; it is not a sheet row.
        hint = re.fullmatch(r"sep=(.)\r?\n?", first_line.lstrip("\ufeff"), re.IGNORECASE)
        lines = text if hint else itertools.chain([first_line], text)
        yield from _csv_records(lines, hint.group(1) if hint else ",")
    finally:
        if text is not None:
            text.detach()  # closing the wrapper would close a stream the caller owns
        if owned:
            stream.close()


def _csv_records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(lines, delimiter=delimiter)
    number = 0
    try:
        for record in reader:
            number += 1
            yield number, [clean_text(cell) for cell in record]
    except csv.Error as exc:
        raise SheetError("bad_csv", row=number + 1, reason=str(exc)) from exc
