"""Validate raw household rows into an :class:`ImportPlan`: typed rows, or every problem found.

Contract of :func:`validate_rows`:

- Every row is checked completely; a row with several problems yields one :class:`RowError` per
  problem, each naming the row number as the spreadsheet shows it and the column key.
- Rows with the same household code are one household: the head's row (与户主关系 ``户主``,
  or empty on the household's first row) and one row per other member. A member's row needs
  only the code, the name and the relation; its household columns (小区 ... 隔离截止) may stay
  empty or must equal the head's (``differs_from_head``). The head's row needs building, room
  and phone (a member's phone is the contact phone when the head has none). A household
  whose head row is bad is bad as a whole (``head_row_bad`` on its members' rows); a bad
  member row only drops that member. Rows of a code whose head is not in the file are
  :attr:`ImportPlan.extra_members` (for households already registered).
- Building, unit and room are normalised (``7号楼`` -> ``7``, see
  :mod:`gate.households.place_names`).
- Error codes are stable: ``missing_field``, ``bad_id_number``, ``bad_phone``, ``bad_date``,
  ``bad_status``, ``bad_members``, ``fewer_members``, ``bad_relation``, ``two_heads``,
  ``differs_from_head``, ``head_row_bad``, ``duplicate`` (a household code repeated without a
  relation: reported on the later row, message names the first), ``duplicate_row`` (a row
  that says exactly what an earlier row of its household says: the same row entered
  twice, reported on the later row instead of as a second head or member), ``example_row`` (the
  template's example left in),
  ``too_long`` (longer than its database column), ``bad_characters`` (a household code,
  building, unit or room with ``/``, ``\\``, ``..``, a control character or a space at either
  end: such a code could not be opened, edited or issued through its own link).
  A quarantine date on a household that is not quarantined is ``bad_status``: in an epidemic,
  guessing which of the two the office meant is not safe.
- Each error carries an English message id (marked ``N_``) and its parameters; entry points
  translate them (gettext on pages, ``gate.cli.support.translate`` in the CLI) and add the
  row number and the column.
- Messages never echo a name, phone or ID number; rows in ``valid`` do not print them in ``repr``.
- The plan is all-or-nothing material: callers import ``valid`` only when ``errors`` is empty
  (or skip the bad rows on purpose).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gate.households.fields import (
    LOOKS_NUMERIC,
    check_id_number,
    id_check_digit,
    id_problem,
    mask_id_number,
    mask_name,
    mask_phone,
    nfkc,
    normalise_id_number,
    normalise_phone,
    parse_date,
)
from gate.households.place_names import PlaceKind, normalise_place_name
from gate.households.relations import Relation, parse_relation
from gate.households.spreadsheet import (
    COLUMNS,
    EXAMPLE_ROWS,
    HOUSEHOLD_KEYS,
    N_,
    SheetRows,
    SheetWarning,
    clean_text,
)
from passes.plates import PlateError, parse_plate
from passes.state import HouseholdStatus

__all__ = [
    "HouseholdRow",
    "HouseholdStatus",
    "ImportPlan",
    "PersonRow",
    "RowError",
    "check_id_number",
    "id_check_digit",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "normalise_id_number",
    "normalise_phone",
    "parse_date",
    "unsafe_text",
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
class PersonRow:
    """One valid member (not the head) from the sheet: a row of its own."""

    row: int
    household_code: str
    name: str = field(repr=False)
    relation: Relation
    phone: str | None = field(repr=False)
    id_number: str | None = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdRow:
    """One valid household from the sheet, with normalised fields.

    ``row`` is its head's row; ``others`` the valid rows of its other members. Building,
    unit and room are normalised (:func:`~gate.households.place_names.normalise_place_name`).
    ``members`` is the 人数 column, None when left empty.
    """

    row: int
    household_code: str  # NFKC, no whitespace, ASCII letters upper-cased
    area: str | None
    grid: str | None
    building: str
    unit: str | None
    room: str
    head_name: str = field(repr=False)
    phone: str = field(repr=False)  # "13800138000" or "0595-12345678": the contact phone
    id_number: str | None = field(repr=False)  # 18 chars, final X upper-case
    members: int | None
    status: HouseholdStatus
    quarantine_until: dt.date | None  # set exactly when status is QUARANTINED
    note: str | None = field(repr=False)
    compound: str | None = None
    head_phone: str | None = field(default=None, repr=False)  # the head's own, if given
    others: tuple[PersonRow, ...] = field(default=(), repr=False)
    plates: tuple[str, ...] = ()  # the 车牌号 column of its rows, normalised (gate.vehicles)

    @property
    def rows(self) -> tuple[int, ...]:
        """Every sheet row of this household: its head's, then its members'."""
        return (self.row, *(person.row for person in self.others))


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one cell (``field`` is the column key, e.g. ``"phone"``).

    ``code`` is stable; ``message_id`` is an English msgid and ``params`` its parameters:
    entry points show ``gettext(message_id, **params)``.
    """

    row: int
    field: str
    code: str
    message_id: str
    params: dict[str, str | int] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        """The untranslated English text (logs, tests)."""
        return self.message_id % self.params if self.params else self.message_id


@dataclass
class ImportPlan:
    """The outcome of validation: import ``valid`` only if ``errors`` is empty."""

    valid: list[HouseholdRow]
    errors: list[RowError]
    warnings: list[SheetWarning] = field(default_factory=list)
    rows_seen: int = 0  # non-blank data rows
    extra_members: list[PersonRow] = field(default_factory=list)
    """Members of households whose head is not in the file (added to registered ones)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> list[int]:
        """Row numbers with at least one error, ascending."""
        return sorted({e.row for e in self.errors})


# --- rows ---------------------------------------------------------------------------------------

_ORDER = {c.key: i for i, c in enumerate(COLUMNS)}
# Column sizes of gate/households/models.py and gate/community/models.py (codes are 32).
_MAX_LENGTH = {
    "household_code": 32,
    "area": 100,
    "grid": 100,
    "compound": 100,
    "building": 32,
    "unit": 16,
    "room": 16,
    "head_name": 64,
    "note": 1000,
}


def _household_code(text: str) -> str:
    return re.sub(r"\s+", "", nfkc(text)).upper()


_EXAMPLE_CODES = frozenset(_household_code(r["household_code"]) for r in EXAMPLE_ROWS)
_CJK = r"[\u3400-\u9fff\uf900-\ufaff]"


def _name(text: str) -> str:
    # Offices pad two-character names ("张  三") to line up with three-character ones.
    text = re.sub(r"\s+", " ", clean_text(text))
    return re.sub(rf"(?<={_CJK}) (?={_CJK})", "", text)


_ID_MESSAGES = {
    "excel_number": N_(
        "Excel stored the ID number as a number and its last digits are lost: format the "
        "column as text and enter it again."
    ),
    "first_generation": N_("This is an old 15-digit ID number: enter the 18-character one."),
    "shape": N_("The ID number must be 18 characters: 17 digits, then a digit or X."),
    "birth_date": N_("The birth date inside the ID number is not a real date."),
    "checksum": N_("The ID number's check digit does not match: look for a mistyped digit."),
}

ROW_MESSAGES = {
    "missing_field": N_("Required: it must not be empty."),
    "bad_plate": N_(
        "Not a plate number: %(plate)s (a plate is like 鲁E12345, new-energy 鲁ED12345; "
        "separate several with 、)."
    ),
    "example_row": N_("This is the template's example row: delete it before importing."),
    "too_long": N_("Too long: at most %(limit)d characters."),
    "excel_phone": N_(
        "Excel showed the phone number in scientific notation or as a decimal and its digits "
        "are lost: format the column as text and enter it again."
    ),
    "bad_phone": N_(
        "Expected an 11-digit mobile number (like 13800138000) or a landline with its area "
        "code (like 0595-12345678)."
    ),
    "bad_members": N_("%(value)s is not a whole number of at least 1."),
    "bad_status": N_("%(value)s is not a status: write 正常, 居家隔离 or 豁免."),
    "bad_date": N_("%(value)s is not a valid date: write it like 2026-11-30."),
    "quarantine_date_required": N_(
        "A household in home quarantine needs the last day of its quarantine."
    ),
    "date_without_quarantine": N_(
        "A quarantine end date is given but the status is not 居家隔离: set the status to "
        "居家隔离 or delete the date."
    ),
    "duplicate": N_(
        "Household code %(code)s repeats row %(first)d: for another member of that household "
        "fill in the relation to the head (与户主关系)."
    ),
    "duplicate_row": N_("Same as row %(first)d: the row is entered twice, delete one of them."),
    "bad_relation": N_("%(value)s is not a relation: write 户主, 配偶, 子女, 父母 or 其他."),
    "two_heads": N_("Household %(code)s already has its head (户主) on row %(first)d."),
    "differs_from_head": N_(
        "Differs from row %(row)d, the head of this household: leave it empty or write the same."
    ),
    "fewer_members": N_(
        "The head count %(value)d is less than the %(listed)d people listed for this household."
    ),
    "head_row_bad": N_(
        "Row %(row)d, the head of this household, has errors: this row is imported with it "
        "once it is fixed."
    ),
    "bad_characters": N_(
        "Must not contain /, \\, .. or control characters, nor start or end with a space."
    ),
}
"""English message ids of the row checks (``_ID_MESSAGES`` for ID numbers)."""

_SAFE_KEYS = ("household_code", "compound", "building", "unit", "room")
"""Values that end up in a URL path or a printed place name: no path or control characters."""


def unsafe_text(value: str) -> bool:
    """True for text that must not name a household or a place: ``/``, ``\\``, ``..``, a
    lone ``.``, a control or format character, or a space at either end."""
    if "/" in value or "\\" in value or ".." in value or value == ".":
        return True
    if value != value.strip():
        return True
    return any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in value)


_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass
class _Line:
    """One sheet row, parsed: its errors and the normalised values its checks accepted."""

    number: int
    code: str
    relation: Relation | None  # None: the column is empty
    values: dict[str, str]  # household columns, normalised; "" when empty
    name: str
    phone: str | None
    id_number: str | None
    members: int | None
    status: HouseholdStatus | None
    until: dt.date | None
    note: str | None
    errors: list[RowError]
    plates: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def content(self) -> tuple[object, ...]:
        """What the row says, its number and errors aside (rows typed twice are equal)."""
        values = tuple(sorted(self.values.items()))
        return (self.code, self.relation, values, self.name, self.phone, self.id_number,
                self.members, self.status, self.until, self.note, self.plates)  # fmt: skip

    def fail(self, key: str, code: str, message: str | None = None, /, **params: str | int) -> None:
        self.errors.append(RowError(self.number, key, code, ROW_MESSAGES[message or code], params))


_PLACE_KINDS: dict[str, PlaceKind] = {"building": "building", "unit": "unit", "room": "room"}


def _household_value(key: str, text: str) -> str:
    if key in _PLACE_KINDS:
        return normalise_place_name(text, _PLACE_KINDS[key])
    return nfkc(text)


class _RowChecker:
    """Collects the errors of one row while building its normalised fields."""

    def __init__(self, number: int, raw: Mapping[str, str]) -> None:
        self.number = number
        self.text = {c.key: clean_text(raw.get(c.key) or "") for c in COLUMNS}
        self.errors: list[RowError] = []

    def fail(self, key: str, code: str, message: str | None = None, /, **params: str | int) -> None:
        """Record one problem; ``message`` is a key of :data:`ROW_MESSAGES` (default: code)."""
        message_id = ROW_MESSAGES[message or code]
        self.errors.append(RowError(self.number, key, code, message_id, params))

    def fail_id(self, message_id: str) -> None:
        self.errors.append(RowError(self.number, "id_number", "bad_id_number", message_id))

    def check(self, today: dt.date | None) -> _Line:
        """Every check that needs only this row; the household's checks come later."""
        text = self.text
        for key in ("household_code", "head_name"):
            if not text[key]:
                self.fail(key, "missing_field")
        code = _household_code(text["household_code"])
        if code in _EXAMPLE_CODES:
            self.fail("household_code", "example_row")
        values = {key: _household_value(key, text[key]) for key in HOUSEHOLD_KEYS}
        self._safe_names(code, values)
        relation = self._relation()
        phone = self._phone()
        id_number = self._id_number(today)
        members = self._members()
        status, until = self._status_and_date()
        self._lengths(values)
        return _Line(
            number=self.number,
            code=code,
            relation=relation,
            values=values,
            name=_name(text["head_name"]),
            phone=phone,
            id_number=id_number,
            members=members,
            status=status,
            until=until,
            note=text["note"] or None,
            errors=self.errors,
            plates=self._plates(),
        )

    def _plates(self) -> tuple[str, ...]:
        """The 车牌号 column: plates separated by 、 , ; or /, normalised (passes.plates)."""
        found: list[str] = []
        for text in re.split(r"[、，,；;/\n]+", self.text["plates"]):
            if not text:
                continue
            try:
                found.append(parse_plate(text).text)
            except PlateError:
                self.fail("plates", "bad_plate", plate=text[:20])
        return tuple(dict.fromkeys(found))

    def _lengths(self, values: dict[str, str]) -> None:
        for key, limit in _MAX_LENGTH.items():
            if len(values.get(key, self.text[key])) > limit:
                self.fail(key, "too_long", limit=limit)

    def _safe_names(self, code: str, values: dict[str, str]) -> None:
        # Checked after the normalisation that stores them (the code loses every space).
        checked = {key: values[key] for key in _SAFE_KEYS if key != "household_code"}
        checked["household_code"] = code
        for key in _SAFE_KEYS:
            if checked[key] and unsafe_text(checked[key]):
                self.fail(key, "bad_characters")

    def _relation(self) -> Relation | None:
        raw = self.text["relation"]
        if not raw:
            return None
        relation = parse_relation(raw)
        if relation is None:
            self.fail("relation", "bad_relation", value=raw)
        return relation

    def _phone(self) -> str | None:
        raw = self.text["phone"]
        if not raw:
            return None
        phone = normalise_phone(raw)
        if phone is None:
            excel = LOOKS_NUMERIC.match(raw) is not None
            self.fail("phone", "bad_phone", "excel_phone" if excel else None)
        return phone

    def _id_number(self, today: dt.date | None) -> str | None:
        raw = self.text["id_number"]
        if not raw:
            return None
        problem = id_problem(raw, today)
        if problem is not None:
            self.fail_id(_ID_MESSAGES[problem])
            return None
        return normalise_id_number(raw)

    def _members(self) -> int | None:
        raw = nfkc(self.text["members"])
        if not raw:
            return None
        match = re.fullmatch(r"(\d{1,4})\s*[人口]?", raw)
        if match is None or int(match.group(1)) < 1:
            self.fail("members", "bad_members", value=raw)
            return None
        return int(match.group(1))

    def _status_and_date(self) -> tuple[HouseholdStatus | None, dt.date | None]:
        raw_status, raw_date = nfkc(self.text["status"]), self.text["quarantine_until"]
        status = _STATUS_WORDS.get(raw_status.lower()) if raw_status else HouseholdStatus.NORMAL
        if status is None:
            self.fail("status", "bad_status", value=raw_status)
        until = parse_date(raw_date) if raw_date else None
        if raw_date and until is None:
            self.fail("quarantine_until", "bad_date", value=raw_date)
        if status is HouseholdStatus.QUARANTINED and not raw_date:
            self.fail("quarantine_until", "missing_field", "quarantine_date_required")
        if status not in (None, HouseholdStatus.QUARANTINED) and raw_date:
            self.fail("status", "bad_status", "date_without_quarantine")
        return status, until if status is HouseholdStatus.QUARANTINED else None


@dataclass
class _Group:
    """The rows of one household code, in file order."""

    code: str
    lines: list[_Line] = field(default_factory=list)
    head: _Line | None = None


def _add_to_group(groups: dict[str, _Group], line: _Line) -> None:
    """File ``line`` under its household; a repeated code must say who the row is.

    A row without a code is a household of its own (checked as one, never imported)."""
    key = line.code or f"\0{line.number}"
    group = groups.get(key)
    if group is None:
        group = groups[key] = _Group(line.code)
        group.lines.append(line)
        if line.relation in (None, Relation.HEAD):
            group.head = line
        return
    first = group.lines[0].number
    if line.ok:
        twin = next((o for o in group.lines if o.ok and o.content == line.content), None)
        if twin is not None:
            line.fail("household_code", "duplicate_row", first=twin.number)
            return
    if line.relation is None:
        if not any(e.field == "relation" for e in line.errors):  # not an unknown word
            line.fail("household_code", "duplicate", code=line.code, first=first)
        return
    if line.relation is Relation.HEAD:
        if group.head is not None:
            line.fail("relation", "two_heads", code=line.code, first=group.head.number)
            return
        group.head = line
    group.lines.append(line)


# Household columns on a member's row: empty, or the same as on the head's row.
_SAME_AS_HEAD = ("compound", "area", "grid", "building", "unit", "room", "members", "status",
                 "quarantine_until")  # fmt: skip


def _household_of(group: _Group) -> HouseholdRow | None:
    """The household a group with a head describes, or None (errors are on its lines)."""
    head = group.head
    assert head is not None
    members = [line for line in group.lines if line is not head]
    values = _household_values(head, members)
    for key in ("building", "room"):
        if not values[key] and not any(e.field == key for e in head.errors):
            head.fail(key, "missing_field")
    phone = head.phone or next((m.phone for m in members if m.phone), None)
    if phone is None and not any(e.field == "phone" for e in head.errors):
        head.fail("phone", "missing_field")
    if head.members is not None and head.members < len(group.lines):
        head.fail("members", "fewer_members", value=head.members, listed=len(group.lines))
    if not head.ok:
        for line in members:
            if line.ok:
                line.fail("household_code", "head_row_bad", row=head.number)
        return None
    if phone is None or head.status is None:  # for the type checker: head.ok rules both out
        return None
    notes = [line.note for line in group.lines if line.note]
    return HouseholdRow(
        row=head.number,
        household_code=group.code,
        area=values["area"] or None,
        grid=values["grid"] or None,
        compound=values["compound"] or None,
        building=values["building"],
        unit=values["unit"] or None,
        room=values["room"],
        head_name=head.name,
        phone=phone,
        head_phone=head.phone,
        id_number=head.id_number,
        members=head.members,
        status=head.status,
        quarantine_until=head.until,
        note="；".join(dict.fromkeys(notes))[: _MAX_LENGTH["note"]] or None,
        plates=tuple(dict.fromkeys(plate for line in group.lines for plate in line.plates)),
        others=tuple(_person(line) for line in members if line.ok),
    )


def _household_values(head: _Line, members: list[_Line]) -> dict[str, str]:
    """The household's columns: the head's, else the first member's that fills one; a
    member's value that differs from the one taken is an error on the member's row."""
    values = dict(head.values)
    for line in members:
        for key in _SAME_AS_HEAD:
            mine = line.values[key]
            if not mine:
                continue
            if not values[key]:
                values[key] = mine
            elif values[key] != mine:
                line.fail(key, "differs_from_head", row=head.number)
    return values


def _person(line: _Line) -> PersonRow:
    return PersonRow(
        row=line.number,
        household_code=line.code,
        name=line.name,
        relation=line.relation or Relation.OTHER,
        phone=line.phone,
        id_number=line.id_number,
    )


def validate_rows(
    rows: Iterable[tuple[int, Mapping[str, str]]], *, today: dt.date | None = None
) -> ImportPlan:
    """Check every row; return all valid households and every problem of every bad row.

    Rows with the same household code are one household: its head's row (与户主关系 户主,
    or empty on the household's first row) and one row per other member, whose household
    columns may stay empty. ``rows`` is usually
    :func:`~gate.households.spreadsheet.read_rows`' result (its warnings are copied into the
    plan) and is consumed completely. ``today`` bounds ID birth dates.
    """
    plan = ImportPlan(valid=[], errors=[])
    groups: dict[str, _Group] = {}
    lines: list[_Line] = []
    for number, raw in rows:
        plan.rows_seen += 1
        line = _RowChecker(number, raw).check(today)
        _add_to_group(groups, line)
        lines.append(line)
    for group in groups.values():
        if group.head is None:
            plan.extra_members.extend(_person(line) for line in group.lines if line.ok)
            continue
        household = _household_of(group)
        if household is not None:
            plan.valid.append(household)
    plan.valid.sort(key=lambda household: household.row)
    for line in lines:
        plan.errors.extend(sorted(line.errors, key=lambda e: _ORDER[e.field]))
    if isinstance(rows, SheetRows):
        plan.warnings.extend(rows.warnings)
    return plan
