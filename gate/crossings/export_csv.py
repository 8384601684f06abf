"""The CSV export's row writer, fast enough for ten million rows.

The cells are exactly ``[cell_text(v) for v in export_cells(...)]`` of
:mod:`gate.crossings.export` (tested byte for byte), but made without per-row work that
repeats: the query reads the crossings table alone (no join, no per-row head-of-household
subquery: gates and households are looked up once each in dictionaries), values come back
untyped (no per-row type conversion), the local time is the UTC time plus the zone's offset
of the current quarter hour (every zone changes its offset on a UTC quarter hour; a quarter
that holds a change is converted row by row), and each label of a code, gate, household,
temperature or flag set is computed once. Rows are read from a server-side cursor
(``yield_per``) and written in chunks, so memory does not grow with the export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from psycopg import ClientCursor
from sqlalchemy import (
    DateTime,
    Select,
    String,
    case,
    column,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
    values,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from gate.crossings.log_filters import LogFilter, filtered
from gate.crossings.models import Crossing
from gate.devices.models import Gate
from gate.households.models import Household, Member
from gate.households.operations import HEAD_FIRST
from gate.households.validation import mask_name
from passes import Code, Direction

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUARTER = timedelta(minutes=15)
_TICK = timedelta(microseconds=1)
ROWS_PER_CHUNK = 500
"""Rows per chunk of bytes (a divisor of the progress step, 10,000)."""
YIELD_PER = 5000
"""Rows fetched from the server-side cursor at a time."""

SUBJECT_LABELS = {
    "visitor": "访客",
    "walk_in": "无证人员",
    "delivery": "快递外卖",
    "vehicle": "车辆",
}
"""The 类别 column: who crossed when not a household's pass (``Crossing.subject``); a
household's own crossing reads 住户, an unknown subject as stored."""
HOUSEHOLD_LABEL = "住户"


def subject_zh(subject: str | None) -> str:
    """The 类别 cell of a crossing's ``subject``."""
    return HOUSEHOLD_LABEL if not subject else SUBJECT_LABELS.get(subject, subject)


_COLUMNS = (
    type_coerce(Crossing.scanned_at, DateTime()),  # naive UTC, no per-row conversion
    Crossing.gate_id,
    type_coerce(Crossing.direction, String()),
    Crossing.household_id,
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


def _text(value: str | None) -> str:
    """``cell_text`` of a text cell: "" for None, a leading ``'`` before a formula."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


class _Labels:
    """Each label computed once: gates, households, codes, temperatures, flags."""

    def __init__(
        self,
        session: Session,
        community_id: int,
        *,
        unmasked: bool,
        reason: Callable[[str | None], str],
        directions: Mapping[Direction, str],
    ) -> None:
        self.session = session
        self.reason = reason
        self.unmasked = unmasked
        self.gates: dict[int, tuple[str, str]] = {}
        self.households: dict[int | None, tuple[str, str]] = {None: ("", self._head(None))}
        self.codes: dict[str | None, tuple[str, str]] = {}
        self.temperatures: dict[int | None, str] = {None: ""}
        self.late: dict[str | None, str] = {}
        self.directions = {d.value: (directions[d], d.value) for d in Direction}
        self._load_households(Household.community_id == community_id)

    def _head(self, name: str | None) -> str:
        return _text((name if self.unmasked else mask_name(name)) or "")

    def _load_households(self, condition: Any) -> None:
        head = (
            select(Member.name)
            .where(Member.household_id == Household.id)
            .order_by(*HEAD_FIRST)
            .limit(1)
            .correlate(Household)
            .scalar_subquery()
        )
        for household_id, code, name in self.session.execute(
            select(Household.id, Household.code, head).where(condition)
        ):
            self.households[household_id] = (_text(code or ""), self._head(name))

    def household(self, household_id: int | None) -> tuple[str, str]:
        found = self.households.get(household_id)
        if found is None:  # of another community (never attributed so, but exact anyway)
            self._load_households(Household.id == household_id)
            found = self.households.setdefault(household_id, ("", self._head(None)))
        return found

    def gate(self, gate_id: int) -> tuple[str, str]:
        found = self.gates.get(gate_id)
        if found is None:
            name, code = self.session.execute(
                select(Gate.name, Gate.code).where(Gate.id == gate_id)
            ).one()
            found = self.gates[gate_id] = (_text(name or code), _text(code))
        return found

    def code(self, code: str | None) -> tuple[str, str]:
        found = self.codes.get(code)
        if found is None:
            found = self.codes[code] = (_text(self.reason(code)), _text(code or ""))
        return found

    def temperature(self, tenths: int | None) -> str:
        found = self.temperatures.get(tenths)
        if found is None:
            found = self.temperatures[tenths] = f"{tenths / 10:.1f}"  # type: ignore[operator]
        return found

    def returned_late(self, flags: str | None) -> str:
        found = self.late.get(flags)
        if found is None:
            late = Code.RETURNED_LATE.value in (flags or "").split()
            found = self.late[flags] = "是" if late else "否"
        return found


class _LocalTime:
    """Naive UTC -> local ``YYYY-MM-DD HH:MM:SS`` in ``zone``, one offset per quarter hour."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.low = self.high = datetime.min  # noqa: DTZ901 (naive UTC, as read)
        self.offset: timedelta | None = None

    def __call__(self, at: datetime) -> str:
        if not self.low <= at < self.high:
            self._window(at)
        if self.offset is None:  # a quarter hour in which the zone's offset changes
            return str(at.replace(tzinfo=UTC).astimezone(self.zone).replace(tzinfo=None))[:19]
        return str(at + self.offset)[:19]

    def _window(self, at: datetime) -> None:
        low = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
        high = low + _QUARTER
        first = low.replace(tzinfo=UTC).astimezone(self.zone).utcoffset()
        last = (high - _TICK).replace(tzinfo=UTC).astimezone(self.zone).utcoffset()
        self.low, self.high = low, high
        self.offset = first if first == last else None


def csv_chunks(
    session: Session,
    log_filter: LogFilter,
    *,
    unmasked: bool,
    headers: tuple[str, ...],
    reason: Callable[[str | None], str],
    directions: Mapping[Direction, str],
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM: ``headers``, then one line per crossing matching
    ``log_filter`` in scan order, in chunks of :data:`ROWS_PER_CHUNK` lines. ``reason`` and
    ``directions``: the Chinese labels of a code and of a direction. ``on_rows`` gets the
    number of rows written so far after each chunk."""
    labels = _Labels(
        session,
        log_filter.community_id,
        unmasked=unmasked,
        reason=reason,
        directions=directions,
    )
    local = _LocalTime(ZoneInfo(log_filter.timezone))
    columns = cast(Select[Any], select(*_COLUMNS))
    query = filtered(columns, log_filter).order_by(Crossing.scanned_at, Crossing.id)
    rows = session.execute(query, execution_options={"yield_per": YIELD_PER})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers)
    written = 0
    for partition in rows.partitions(ROWS_PER_CHUNK):
        lines = []
        for (
            at,
            gate_id,
            direction,
            household_id,
            tenths,
            allowed,
            code,
            offline,
            conflict,
            flags,
            operator,
            supervisor,
            override_reason,
            rule_version,
            gate_seq,
            row_hash,
            people,
            subject,
            plate,
        ) in partition:
            gate_name, gate_code = labels.gate(gate_id)
            direction_label, direction_code = labels.directions[direction]
            household_code, head = labels.household(household_id)
            code_label, code_text = labels.code(code)
            lines.append(
                (
                    local(at),
                    gate_name,
                    gate_code,
                    direction_label,
                    direction_code,
                    household_code,
                    head,
                    labels.temperature(tenths),
                    "通过" if allowed else "禁止",
                    code_label,
                    code_text,
                    "是" if offline else "否",
                    "是" if conflict else "否",
                    labels.returned_late(flags),
                    _text(operator),
                    _text(supervisor),
                    _text(override_reason),
                    _number(rule_version),
                    _number(gate_seq),
                    _text(row_hash),
                    _number(people or 1),
                    _text(subject_zh(subject)),
                    _text(plate),
                )
            )
        writer.writerows(lines)
        written += len(lines)
        yield _take(buffer)
        if on_rows is not None:
            on_rows(written)
    tail = _take(buffer)
    if tail:
        yield tail


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


# --- PostgreSQL: the cells made by the server -----------------------------------------------


def _neutral(value: Any) -> Any:
    """SQL of :func:`_text` on a non-null text."""
    formula = func.substr(value, 1, 1).in_(_FORMULA_STARTS)
    return case((formula, literal("'").op("||")(value)), else_=value)


def _cell(value: Any) -> Any:
    """An empty text cell as NULL: COPY writes NULL bare, and quotes an empty string."""
    return func.nullif(value, literal(""))


def _masked(name: Any) -> Any:
    """SQL of ``mask_name``: the first character, then one ``*`` per other character."""
    return case(
        (func.coalesce(func.length(name), 0) == 0, literal("")),
        (func.length(name) == 1, literal("*")),
        else_=func.substr(name, 1, 1).op("||")(func.repeat(literal("*"), func.length(name) - 1)),
    )


def pg_query(
    log_filter: LogFilter,
    *,
    unmasked: bool,
    reasons: Mapping[str, str],
    directions: Mapping[Direction, str],
) -> Select[Any]:
    """The export's rows with every cell already text, as :func:`csv_chunks` writes them
    (PostgreSQL: its time zones are the same IANA zones zoneinfo reads), an empty cell as
    NULL. ``reasons``: the Chinese reason of every known code (any other code is shown as
    stored).

    Per-row work is what only a row has: the cells of a gate, a household (its head's name
    masked) and a code are made once each, in small derived tables the rows join; the local
    time is the UTC time plus the zone's offset, which changes only at the transitions
    found in the exported days (:func:`_local_time`).
    """
    heads = (
        select(Member.household_id, Member.name)
        .ext(distinct_on(Member.household_id))
        .order_by(Member.household_id, *HEAD_FIRST)
        .subquery("heads")
    )
    head = heads.c.name if unmasked else _masked(heads.c.name)
    households = (
        select(
            Household.id,
            _cell(_neutral(Household.code)).label("code"),
            _cell(_neutral(head)).label("head"),
        )
        .outerjoin(heads, heads.c.household_id == Household.id)
        .subquery("household_cells")
    )
    gates = select(
        Gate.id,
        _cell(_neutral(func.coalesce(func.nullif(Gate.name, ""), Gate.code))).label("name"),
        _cell(_neutral(Gate.code)).label("code"),
    ).subquery("gate_cells")
    codes = values(
        column("code", String()),
        column("label", String()),
        column("code_text", String()),
        name="code_cells",
    ).data(
        [
            (code, _text(label) or None, _text(code) or None)
            for code, label in sorted(reasons.items())
        ]
    )
    known = codes.c.code.is_not(None)  # a code of ``reasons``; any other is shown as stored
    direction = type_coerce(Crossing.direction, String())
    tenths = Crossing.temperature_tenths
    late = Code.RETURNED_LATE.value
    query = (
        select(
            func.to_char(_local_time(log_filter), "YYYY-MM-DD HH24:MI:SS"),
            gates.c.name,
            gates.c.code,
            case(
                (direction == Direction.OUT.value, directions[Direction.OUT]),
                else_=directions[Direction.IN],
            ),
            direction,
            households.c.code,
            households.c.head,  # NULL without a household, as mask_name(None) is ""
            _tenths_text(tenths),
            case((Crossing.allowed, "通过"), else_="禁止"),
            case((known, codes.c.label), else_=_cell(_neutral(Crossing.code))),
            case((known, codes.c.code_text), else_=_cell(_neutral(Crossing.code))),
            case((Crossing.offline, "是"), else_="否"),
            case((Crossing.conflict, "是"), else_="否"),
            case(
                # The regular expression only where the code occurs at all (rarely).
                (func.strpos(Crossing.flags, late) == 0, "否"),
                (Crossing.flags.regexp_match(r"(^|\s)" + late + r"(\s|$)"), "是"),
                else_="否",
            ),
            _cell(_neutral(Crossing.operator)),
            _cell(_neutral(Crossing.override_supervisor)),
            _cell(_neutral(Crossing.override_reason)),
            Crossing.rule_version,
            Crossing.gate_seq,
            _cell(_neutral(Crossing.row_hash)),
            func.coalesce(Crossing.people, 1),
            case(
                *((Crossing.subject == key, label) for key, label in SUBJECT_LABELS.items()),
                # subject_zh: an empty subject is a household's too.
                (func.coalesce(Crossing.subject, "") == "", HOUSEHOLD_LABEL),
                else_=_neutral(Crossing.subject),
            ),
            _cell(_neutral(Crossing.plate)),
        )
        .join(gates, gates.c.id == Crossing.gate_id)
        .outerjoin(households, households.c.id == Crossing.household_id)
        .outerjoin(codes, codes.c.code == Crossing.code)
    )
    return filtered(query, log_filter).order_by(Crossing.scanned_at, Crossing.id)


def _tenths_text(tenths: Any) -> Any:
    """SQL of ``f"{tenths / 10:.1f}"`` in integers (no numeric division, no ``to_char``)."""
    size = func.abs(tenths)
    text_ = (size // 10).cast(String()).op("||")(".").op("||")((size % 10).cast(String()))
    return case((tenths < 0, literal("-").op("||")(text_)), else_=text_)


_HOUR = timedelta(hours=1)


def _local_time(log_filter: LogFilter) -> Any:
    """SQL of ``scanned_at`` (naive UTC) as the naive local time in the filter's zone.

    With both days of the filter given: ``scanned_at`` plus the zone's offset, a ``CASE``
    over the offset's changes within those days (found hour by hour, then to the second;
    no zone changes its offset twice within an hour). Otherwise PostgreSQL's ``timezone``.
    """
    zone = ZoneInfo(log_filter.timezone)
    if log_filter.date_from is None or log_filter.date_to is None:
        return func.timezone(log_filter.timezone, func.timezone("UTC", Crossing.scanned_at))
    start = datetime.combine(log_filter.date_from, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(
        log_filter.date_to + timedelta(days=1), datetime.min.time(), zone
    ).astimezone(UTC)
    changes: list[tuple[datetime, timedelta]] = []
    offset = _offset(zone, start)
    at = start
    while at < end:
        step = min(at + _HOUR, end)
        if _offset(zone, step) != offset:
            low, high = int(at.timestamp()), int(step.timestamp())  # offset(low) is the old
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, datetime.fromtimestamp(middle, UTC)) == offset:
                    low = middle
                else:
                    high = middle
            changed = datetime.fromtimestamp(high, UTC)
            changes.append((changed, offset))
            offset = _offset(zone, changed)
        at = step
    if not changes:
        return Crossing.scanned_at + _interval(offset)
    return Crossing.scanned_at + case(
        *(
            (Crossing.scanned_at < _timestamp(changed), _interval(before))
            for changed, before in changes
        ),
        else_=_interval(offset),
    )


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _interval(offset: timedelta) -> Any:
    return literal_column(f"INTERVAL '{int(offset.total_seconds())} seconds'")


def _timestamp(moment: datetime) -> Any:
    return literal_column(f"TIMESTAMP '{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}'")


def pg_csv_chunks(
    session: Session,
    log_filter: LogFilter,
    *,
    unmasked: bool,
    headers: tuple[str, ...],
    reasons: Mapping[str, str],
    directions: Mapping[Direction, str],
    on_rows: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """:func:`csv_chunks` on PostgreSQL: the server makes the cells (:func:`pg_query`) and
    the CSV itself (``COPY (...) TO STDOUT WITH (FORMAT csv)``); Python only writes the BOM
    and the header and turns the server's ``\\n`` line ends into the ``\\r\\n`` of
    :mod:`csv`.

    Byte for byte :func:`csv_chunks`: both quote exactly the cells holding a comma, a quote,
    ``\\r`` or ``\\n`` and double the quotes; empty cells are sent as NULL (COPY quotes an
    empty string, :mod:`csv` does not). A client encoding other than UTF-8 falls back to
    reading the cells with a server-side cursor and writing them with :mod:`csv`.
    """
    statement = pg_query(log_filter, unmasked=unmasked, reasons=reasons, directions=directions)
    connection = session.connection()
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.construct_params()
    processors: dict[str, Any] = dict(compiled._bind_processors)  # UTCDateTime's
    for key, processor in processors.items():
        if key in params and params[key] is not None:
            params[key] = processor(params[key])
    driver = connection.connection.driver_connection
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers)
    if driver.info.encoding != "utf-8":  # type: ignore[union-attr]
        yield from _pg_cursor_chunks(driver, str(compiled), params, buffer, writer, on_rows)
        return
    head = _take(buffer)
    # COPY takes no bound parameters: a client-side cursor merges them (psycopg's quoting).
    copy_sql = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
    written = 0
    lines: list[Any] = []
    with ClientCursor(driver) as cursor, cursor.copy(copy_sql, params) as copy:  # type: ignore[arg-type]
        read = copy.read
        while line := read():  # one row per read
            lines.append(line)
            if len(lines) == ROWS_PER_CHUNK:
                written += len(lines)
                yield head + _crlf(lines)
                head = b""
                lines = []
                if on_rows is not None:
                    on_rows(written)
    # The copy is over before the last chunk goes out: a short export reads everything
    # before its first yield (a same-thread request may close the unit of work meanwhile).
    if lines:
        written += len(lines)
        yield head + _crlf(lines)
        if on_rows is not None:
            on_rows(written)
    elif head:
        yield head


def _crlf(lines: list[Any]) -> bytes:
    """COPY's rows (each ending in ``\\n``) with :mod:`csv`'s ``\\r\\n`` line ends; a line
    break inside a quoted cell stays as it is, as :mod:`csv` writes it."""
    data = b"".join(lines)
    if data.count(b"\n") == len(lines):  # no line break inside a cell: each is a row's end
        return data.replace(b"\n", b"\r\n")
    return b"".join(bytes(line)[:-1] + b"\r\n" for line in lines)


def _pg_cursor_chunks(
    driver: Any,
    sql: str,
    params: Mapping[str, Any],
    buffer: io.StringIO,
    writer: Any,
    on_rows: Callable[[int], None] | None,
) -> Iterator[bytes]:
    """The cells of :func:`pg_query` read with a server-side cursor, written by :mod:`csv`."""
    written = 0
    with driver.cursor(name="crossings_export") as cursor:
        cursor.itersize = YIELD_PER
        cursor.execute(sql, params)
        while True:
            lines = cursor.fetchmany(ROWS_PER_CHUNK)
            if lines:
                writer.writerows(lines)
                written += len(lines)
                yield _take(buffer)
                if on_rows is not None:
                    on_rows(written)
            if len(lines) < ROWS_PER_CHUNK:
                break  # a short batch is the last: no round trip to learn that nothing is left
    tail = _take(buffer)
    if tail:
        yield tail
