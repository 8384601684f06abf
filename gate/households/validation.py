"""Validate raw household rows into an :class:`ImportPlan`: typed rows, or every problem found.

Contract of :func:`validate_rows`:

- Every row is checked completely; a row with several problems yields one :class:`RowError` per
  problem, each naming the row number as the spreadsheet shows it and the column key.
- Error codes are stable: ``missing_field``, ``bad_id_number``, ``bad_phone``, ``bad_date``,
  ``bad_status``, ``bad_members``, ``duplicate`` (a household code repeated in the file: reported
  on the later row, message names the first), ``example_row`` (the template's example left in),
  ``too_long`` (longer than its database column).
  A quarantine date on a household that is not quarantined is ``bad_status``: in an epidemic,
  guessing which of the two the office meant is not safe.
- Messages never echo a name, phone or ID number; rows in ``valid`` do not print them in ``repr``.
- The plan is all-or-nothing material: callers import ``valid`` only when ``errors`` is empty.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gate.households.spreadsheet import (
    COLUMNS,
    EXAMPLE_ROWS,
    SheetRows,
    SheetWarning,
    clean_text,
)
from passes.state import HouseholdStatus

__all__ = [
    "HouseholdRow",
    "HouseholdStatus",
    "ImportPlan",
    "RowError",
    "check_id_number",
    "id_check_digit",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "normalise_id_number",
    "normalise_phone",
    "parse_date",
    "validate_rows",
]


_STATUS_WORDS: dict[str, HouseholdStatus] = {
    "正常": HouseholdStatus.NORMAL,
    "normal": HouseholdStatus.NORMAL,
    "居家隔离": HouseholdStatus.QUARANTINED,
    "隔离": HouseholdStatus.QUARANTINED,
    "quarantined": HouseholdStatus.QUARANTINED,
    "quarantine": HouseholdStatus.QUARANTINED,
    "豁免": HouseholdStatus.EXEMPT,
    "exempt": HouseholdStatus.EXEMPT,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdRow:
    """One valid household from the sheet, with normalised fields."""

    row: int
    household_code: str  # NFKC, no whitespace, ASCII letters upper-cased
    area: str | None
    grid: str | None
    building: str
    unit: str | None
    room: str
    head_name: str = field(repr=False)
    phone: str = field(repr=False)  # "13800138000" or "0595-12345678"
    id_number: str | None = field(repr=False)  # 18 chars, final X upper-case
    members: int
    status: HouseholdStatus
    quarantine_until: dt.date | None  # set exactly when status is QUARANTINED
    note: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell (``field`` is the column key, e.g. ``"phone"``)."""

    row: int
    field: str
    code: str
    message_zh: str
    message_en: str


@dataclass
class ImportPlan:
    """The outcome of validation: import ``valid`` only if ``errors`` is empty."""

    valid: list[HouseholdRow]
    errors: list[RowError]
    warnings: list[SheetWarning] = field(default_factory=list)
    rows_seen: int = 0  # non-blank data rows

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> list[int]:
        """Row numbers with at least one error, ascending."""
        return sorted({e.row for e in self.errors})


# --- field checks -------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_LOOKS_NUMERIC = re.compile(r"^\d+(\.\d+)?[eE][+-]?\d+$|^\d+\.\d+$")


def _nfkc(text: str) -> str:
    return clean_text(unicodedata.normalize("NFKC", text))


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character (ISO 7064 MOD 11-2) for 17 leading digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalise_id_number(text: str) -> str:
    """NFKC, stripped, final ``x`` upper-cased; the result is not yet checked."""
    return _nfkc(text).replace(" ", "").upper()


def _id_problem(text: str, today: dt.date | None) -> str | None:
    value = normalise_id_number(text)
    if _LOOKS_NUMERIC.match(value):
        return "excel_number"
    if re.fullmatch(r"\d{15}", value):
        return "first_generation"
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", value):
        return "shape"
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "birth_date"
    latest = today or dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    if not dt.date(1900, 1, 1) <= born <= latest:
        return "birth_date"
    if id_check_digit(value[:17]) != value[17]:
        return "checksum"
    return None


def check_id_number(s: str, *, today: dt.date | None = None) -> bool:
    """True for an 18-character resident ID with a valid check digit and plausible birth date.

    Lower-case ``x`` and surrounding whitespace are accepted. The birth date MUST be a real
    calendar date from 1900-01-01 to ``today`` (default: tomorrow in UTC, a clock read).
    """
    return _id_problem(s, today) is None


def normalise_phone(s: str) -> str | None:
    """``"13800138000"`` for a mainland mobile, ``"0595-12345678"`` for a landline, else None.

    Accepts spaces, hyphens, brackets, full-width digits and a +86/0086/86 prefix on mobiles.
    """
    digits = re.sub(r"[\s\-()\u2010-\u2015]", "", _nfkc(s))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if re.fullmatch(r"861[3-9]\d{9}", digits):
        digits = digits[2:]
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits
    if re.fullmatch(r"0\d{9,11}", digits):
        # 010 and 02x are the only three-digit area codes; all others have four digits.
        split = 3 if digits[1] in "12" else 4
        area, local = digits[:split], digits[split:]
        if len(local) in (7, 8) and local[0] != "0":
            return f"{area}-{local}"
    return None


_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+0{1,2}:00(?::00)?)?"
    r"|(\d{4})(\d{2})(\d{2})"
)


def parse_date(s: str) -> dt.date | None:
    """Parse 2026-11-30, 2026/11/30, 2026.11.30, 2026年11月30日 or 20261130 (a midnight time
    such as Excel's ``2026/11/30 0:00`` is allowed); None if not a real date in 2000-2100."""
    match = _DATE.fullmatch(_nfkc(s))
    if match is None:
        return None
    parts = [int(g) for g in match.groups() if g is not None]
    try:
        value = dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        return None
    return value if 2000 <= value.year <= 2100 else None


# --- masks --------------------------------------------------------------------------------------


def mask_name(name: str | None) -> str:
    """``"张三丰"`` -> ``"张**"``: keep the first character only."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str:
    """``"13800138000"`` -> ``"138****8000"``; ``"0595-12345678"`` -> ``"0595-****5678"``."""
    if not phone:
        return ""
    if len(phone) == 11 and phone.isdigit():
        return phone[:3] + "****" + phone[-4:]
    area, dash, local = phone.rpartition("-")
    if len(local) <= 4:
        return area + dash + "*" * len(local)
    return area + dash + "*" * (len(local) - 4) + local[-4:]


def mask_id_number(id_number: str | None) -> str:
    """``"350524199001011234"`` -> ``"3505**********1234"``: first four and last four kept."""
    if not id_number:
        return ""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


# --- rows ---------------------------------------------------------------------------------------

_HEADER_ZH = {c.key: c.header_zh for c in COLUMNS}
_ORDER = {c.key: i for i, c in enumerate(COLUMNS)}
_REQUIRED = [c.key for c in COLUMNS if c.required]
# Column sizes of gate/households/models.py and gate/community/models.py (codes are 32).
_MAX_LENGTH = {
    "household_code": 32,
    "area": 100,
    "grid": 100,
    "building": 32,
    "unit": 16,
    "room": 16,
    "head_name": 64,
    "note": 1000,
}


def _household_code(text: str) -> str:
    return re.sub(r"\s+", "", _nfkc(text)).upper()


_EXAMPLE_CODES = frozenset(_household_code(r["household_code"]) for r in EXAMPLE_ROWS)
_CJK = r"[\u3400-\u9fff\uf900-\ufaff]"


def _name(text: str) -> str:
    # Offices pad two-character names ("张  三") to line up with three-character ones.
    text = re.sub(r"\s+", " ", clean_text(text))
    return re.sub(rf"(?<={_CJK}) (?={_CJK})", "", text)


_ID_MESSAGES = {
    "excel_number": (
        "身份证号被 Excel 当成了数字，后几位已丢失；请把该列设为文本格式后重新填写",
        "the ID number was stored as a number by Excel and its last digits are lost; "
        "format the column as text and enter it again",
    ),
    "first_generation": (
        "这是 15 位旧身份证号，请填写 18 位身份证号",
        "this is an old 15-digit ID number; enter the 18-character one",
    ),
    "shape": (
        "身份证号应为 18 位：17 位数字加 1 位数字或 X",
        "the ID number must be 18 characters: 17 digits then a digit or X",
    ),
    "birth_date": (
        "身份证号中的出生日期不正确",
        "the birth date inside the ID number is not a real date",
    ),
    "checksum": (
        "身份证号校验位不符，请核对是否有数字输错",
        "the ID number's check digit does not match; look for a mistyped digit",
    ),
}


class _RowChecker:
    """Collects the errors of one row while building its normalised fields."""

    def __init__(self, number: int, raw: Mapping[str, str]) -> None:
        self.number = number
        self.text = {c.key: clean_text(raw.get(c.key) or "") for c in COLUMNS}
        self.errors: list[RowError] = []

    def fail(self, key: str, code: str, zh: str, en: str) -> None:
        self.errors.append(RowError(self.number, key, code, f"{_HEADER_ZH[key]}：{zh}", en))

    def check(self, today: dt.date | None) -> HouseholdRow | None:
        text = self.text
        for key in _REQUIRED:
            if not text[key]:
                self.fail(key, "missing_field", "必填，不能为空", f"{key} is required")
        code = _household_code(text["household_code"])
        if code in _EXAMPLE_CODES:
            self.fail(
                "household_code", "example_row", "这是模板中的示例行，请删除后再导入",
                "this is the template's example row; delete it before importing",
            )  # fmt: skip
        phone = self._phone()
        id_number = self._id_number(today)
        members = self._members()
        status, until = self._status_and_date()
        self._lengths()
        if self.errors or phone is None or members is None or status is None:
            return None
        return HouseholdRow(
            row=self.number,
            household_code=code,
            area=_nfkc(text["area"]) or None,
            grid=_nfkc(text["grid"]) or None,
            building=_nfkc(text["building"]),
            unit=_nfkc(text["unit"]) or None,
            room=_nfkc(text["room"]),
            head_name=_name(text["head_name"]),
            phone=phone,
            id_number=id_number,
            members=members,
            status=status,
            quarantine_until=until,
            note=text["note"] or None,
        )

    def _lengths(self) -> None:
        for key, limit in _MAX_LENGTH.items():
            if len(self.text[key]) > limit:
                self.fail(
                    key, "too_long", f"太长，最多 {limit} 个字",
                    f"{key} is longer than {limit} characters",
                )  # fmt: skip

    def _phone(self) -> str | None:
        raw = self.text["phone"]
        if not raw:
            return None
        phone = normalise_phone(raw)
        if phone is None:
            if _LOOKS_NUMERIC.match(raw):
                self.fail(
                    "phone", "bad_phone",
                    "被 Excel 显示成了科学计数法或小数，数字已丢失；请把该列设为文本格式后重新填写",
                    "Excel turned the phone number into scientific notation and lost digits; "
                    "format the column as text and enter it again",
                )  # fmt: skip
            else:
                self.fail(
                    "phone", "bad_phone",
                    "应为 11 位手机号（如 13800138000）或带区号的固定电话（如 0595-12345678）",
                    "expected an 11-digit mobile (13800138000) or a landline with area code "
                    "(0595-12345678)",
                )  # fmt: skip
        return phone

    def _id_number(self, today: dt.date | None) -> str | None:
        raw = self.text["id_number"]
        if not raw:
            return None
        problem = _id_problem(raw, today)
        if problem is not None:
            zh, en = _ID_MESSAGES[problem]
            self.fail("id_number", "bad_id_number", zh, en)
            return None
        return normalise_id_number(raw)

    def _members(self) -> int | None:
        raw = _nfkc(self.text["members"])
        if not raw:
            return 1
        match = re.fullmatch(r"(\d{1,4})\s*[人口]?", raw)
        if match is None or int(match.group(1)) < 1:
            self.fail(
                "members", "bad_members", f"“{raw}”不是大于等于 1 的整数",
                f"members must be a whole number of at least 1, got {raw!r}",
            )  # fmt: skip
            return None
        return int(match.group(1))

    def _status_and_date(self) -> tuple[HouseholdStatus | None, dt.date | None]:
        raw_status, raw_date = _nfkc(self.text["status"]), self.text["quarantine_until"]
        status = _STATUS_WORDS.get(raw_status.lower()) if raw_status else HouseholdStatus.NORMAL
        if status is None:
            self.fail(
                "status", "bad_status", f"“{raw_status}”无效，应为 正常、居家隔离 或 豁免",
                f"status {raw_status!r} is not one of normal, quarantined, exempt",
            )  # fmt: skip
        until = parse_date(raw_date) if raw_date else None
        if raw_date and until is None:
            self.fail(
                "quarantine_until", "bad_date",
                f"“{raw_date}”不是有效日期，请写成 2026-11-30 这样的格式",
                f"{raw_date!r} is not a valid date; write it like 2026-11-30",
            )  # fmt: skip
        if status is HouseholdStatus.QUARANTINED and not raw_date:
            self.fail(
                "quarantine_until", "missing_field", "居家隔离户必须填写隔离截止日期",
                "quarantine_until is required for a quarantined household",
            )  # fmt: skip
        if status not in (None, HouseholdStatus.QUARANTINED) and raw_date:
            self.fail(
                "status", "bad_status",
                "填写了隔离截止日期，但状态不是“居家隔离”；请改为居家隔离，或删除该日期",
                "a quarantine end date is given but the status is not quarantined; "
                "set the status to quarantined or remove the date",
            )  # fmt: skip
        return status, until if status is HouseholdStatus.QUARANTINED else None


def validate_rows(
    rows: Iterable[tuple[int, Mapping[str, str]]], *, today: dt.date | None = None
) -> ImportPlan:
    """Check every row; return all valid rows and every problem of every bad row.

    ``rows`` is usually :func:`~gate.households.spreadsheet.read_rows`' result (its warnings are
    copied into the plan) and is consumed completely. ``today`` bounds ID birth dates.
    """
    plan = ImportPlan(valid=[], errors=[])
    first_row: dict[str, int] = {}
    for number, raw in rows:
        plan.rows_seen += 1
        checker = _RowChecker(number, raw)
        household = checker.check(today)
        code = _household_code(checker.text["household_code"])
        if code and code in first_row:
            first = first_row[code]
            checker.fail(
                "household_code", "duplicate", f"“{code}”与第 {first} 行重复",
                f"household code {code} already appears on row {first}",
            )  # fmt: skip
            household = None
        elif code:
            first_row[code] = number
        checker.errors.sort(key=lambda e: _ORDER[e.field])
        plan.errors.extend(checker.errors)
        if household is not None:
            plan.valid.append(household)
    if isinstance(rows, SheetRows):
        plan.warnings.extend(rows.warnings)
    return plan
