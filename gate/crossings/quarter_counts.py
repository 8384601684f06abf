"""Pre-counted quarter hours: the office's per-hour counts without scanning the whole log.

``crossing_quarter_counts`` holds, per community, UTC quarter hour, direction and verdict,
the number of crossings with ``id <= crossing_rollup.last_crossing_id`` (the watermark).
A count is exact at any moment: the rolled-up counts plus a live count of the crossings
above the watermark (read by the primary key), in one statement, so one snapshot.

- :func:`roll_up` (``checkpoint crossings rollup``, e.g. every few minutes) adds the
  crossings above the watermark by their ``scanned_at`` quarter (a late upload gets a high id,
  so it is counted in its own old quarter) and moves the watermark. Nothing on the scan path
  waits for it: inserts take no lock of its.
- :func:`subtract_deleted`: whoever deletes crossings (the privacy purge) subtracts the
  deleted rows at or below the watermark in its own transaction, before deleting them.

Both run under one lock (PostgreSQL: a transaction-level advisory lock; SQLite: the
writing unit's write lock), so a purge never races a roll-up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
    text,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing, CrossingQuarterCount, CrossingRollup

QUARTER_S = 900
"""Seconds in a quarter hour: a quarter's number is ``epoch seconds // QUARTER_S``."""
ROLLUP_LOCK = 0x7175_6172  # "quar": pg_advisory_xact_lock's key of roll-up and purge
WAIT_FOR_WRITERS_S = 2.0
"""How long :func:`roll_up` waits on PostgreSQL for the transactions writing crossings when
it starts; past it, the watermark stays where it is (the counts stay exact, only slower)."""
_COUNTS: Table = CrossingQuarterCount.__table__  # type: ignore[assignment]
_MARK_ROW = 1


@dataclass(frozen=True)
class RollupResult:
    """What a roll-up did: the watermark before and after, the crossings added, and
    whether it waited for writers in vain (then it changed nothing)."""

    mark_before: int
    mark_after: int
    crossings: int
    writers_busy: bool = False


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER = timedelta(seconds=QUARTER_S)


def quarter_of(moment: datetime) -> int:
    """The number of the UTC quarter hour holding ``moment`` (aware; exact, no floats)."""
    return (moment - _EPOCH) // _QUARTER


def _first_whole_quarter(moment: datetime) -> int:
    """The number of the first quarter hour starting at or after ``moment``."""
    return -((_EPOCH - moment) // _QUARTER)


def quarter_start(quarter: int) -> datetime:
    """The aware UTC start of quarter hour number ``quarter``."""
    return datetime.fromtimestamp(quarter * QUARTER_S, UTC)


def _quarter_columns(dialect: str) -> tuple[Any, Any]:
    """(what to group by, the quarter's number as selected) for ``Crossing.scanned_at``
    (naive UTC). PostgreSQL groups by ``date_bin`` (integer microseconds) and converts only
    each group's key to a number."""
    if dialect == "sqlite":
        number = cast(func.strftime("%s", Crossing.scanned_at), Integer) // QUARTER_S
        return number, number
    origin: ColumnElement[datetime] = literal_column("TIMESTAMP '1970-01-01 00:00:00'")
    key = func.date_bin(literal_column("INTERVAL '15 minutes'"), Crossing.scanned_at, origin)
    number = cast(func.extract("epoch", key), Integer) // QUARTER_S
    return key, number


def _grouped(dialect: str, *where: ColumnElement[bool]) -> Select[Any]:
    """Crossings matching ``where`` counted per community, quarter, direction and verdict."""
    key, number = _quarter_columns(dialect)
    direction = type_coerce(Crossing.direction, String())
    return (
        select(Crossing.community_id, number, direction, Crossing.allowed, func.count())
        .where(*where)
        .group_by(Crossing.community_id, key, direction, Crossing.allowed)
    )


def lock(session: Session) -> None:
    """Take the roll-up's lock until the transaction ends (PostgreSQL; on SQLite the
    writing unit's write lock already excludes every other writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ROLLUP_LOCK)))


def watermark(session: Session) -> int:
    """The highest crossing id counted in ``crossing_quarter_counts`` (0: none)."""
    mark = session.scalar(
        select(CrossingRollup.last_crossing_id).where(CrossingRollup.id == _MARK_ROW)
    )
    return int(mark or 0)


def roll_up(
    session: Session,
    now: datetime,
    *,
    wait_s: float = WAIT_FOR_WRITERS_S,
    limit: int | None = None,
) -> RollupResult:
    """Count the crossings above the watermark into their quarters and move it (at most
    ``limit`` ids further, if given). Flushes, never commits: run it in a writing unit of
    work (on SQLite it holds the write lock).

    On PostgreSQL a crossing with an id below the highest may still be uncommitted: the
    roll-up reads the highest id, then waits until every transaction then writing the
    crossings table has ended (ids come from the table's default inside the inserting
    statement, which holds that table lock until its transaction ends), so no id at or below
    the new watermark can appear later.
    """
    dialect = session.get_bind().dialect.name
    lock(session)
    before = watermark(session)
    highest = int(session.scalar(select(func.max(Crossing.id))) or 0)
    if limit is not None:
        highest = min(highest, before + limit)
    if highest <= before:
        return RollupResult(before, before, 0)
    if dialect == "postgresql" and not _writers_done(session, wait_s):
        return RollupResult(before, before, 0, writers_busy=True)
    grouped = _grouped(dialect, Crossing.id > before, Crossing.id <= highest)
    columns = ["community_id", "quarter", "direction", "allowed", "crossings"]
    module: Any = postgresql if dialect == "postgresql" else sqlite
    insert = module.insert(_COUNTS).from_select(columns, grouped)
    upsert = insert.on_conflict_do_update(
        index_elements=columns[:4],
        set_={"crossings": _COUNTS.c.crossings + insert.excluded.crossings},
    )
    session.execute(upsert)
    added = session.scalar(select(func.count()).where(Crossing.id > before, Crossing.id <= highest))
    _set_watermark(session, highest, now)
    session.flush()
    return RollupResult(before, highest, int(added or 0))


def behind(session: Session) -> int:
    """How many ids lie above the watermark (crossings counted live, gaps included)."""
    return max(int(session.scalar(select(func.max(Crossing.id))) or 0) - watermark(session), 0)


def _set_watermark(session: Session, mark: int, now: datetime) -> None:
    row = session.get(CrossingRollup, _MARK_ROW)
    if row is None:
        session.add(CrossingRollup(id=_MARK_ROW, last_crossing_id=mark, rolled_at=now))
    else:
        row.last_crossing_id, row.rolled_at = mark, now


_WRITERS = text(
    "SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND relation = 'crossings'::regclass AND mode = 'RowExclusiveLock'"
    " AND pid <> pg_backend_pid()"
)


def _writers_done(session: Session, wait_s: float) -> bool:
    """Wait (polling) until the transactions writing crossings now have all ended; False
    if some still run after ``wait_s`` seconds. Later writers get higher ids: not waited for."""
    writers = set(session.scalars(_WRITERS))
    deadline = time.monotonic() + wait_s
    while writers:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
        writers &= set(session.scalars(_WRITERS))
    return True


def subtract_deleted(session: Session, where: ColumnElement[bool]) -> int:
    """Before deleting the crossings matching ``where``: take the roll-up's lock and subtract
    those at or below the watermark from their quarters (in the caller's transaction, so the
    counts and the log change together). Returns the crossings subtracted."""
    lock(session)
    mark = watermark(session)
    if mark == 0:
        return 0
    dialect = session.get_bind().dialect.name
    rows = session.execute(_grouped(dialect, where, Crossing.id <= mark)).all()
    if not rows:
        return 0
    session.execute(
        update(_COUNTS)
        .where(
            _COUNTS.c.community_id == bindparam("b_community"),
            _COUNTS.c.quarter == bindparam("b_quarter"),
            _COUNTS.c.direction == bindparam("b_direction"),
            _COUNTS.c.allowed == bindparam("b_allowed"),
        )
        .values(crossings=_COUNTS.c.crossings - bindparam("b_n")),
        [
            {
                "b_community": community,
                "b_quarter": int(quarter),
                "b_direction": direction,
                "b_allowed": bool(allowed),
                "b_n": int(n),
            }
            for community, quarter, direction, allowed, n in rows
        ],
    )
    session.execute(delete(_COUNTS).where(_COUNTS.c.crossings <= 0))
    return sum(int(n) for *_, n in rows)


def quarter_counts(
    session: Session, community_id: int, start: datetime, end: datetime
) -> Iterator[tuple[datetime, str, bool, int]]:
    """(UTC quarter start, direction value, allowed, crossings) of the community's crossings
    scanned in ``[start, end)``, several tuples per key possibly (the caller sums).

    Whole quarters come from the rolled-up counts plus the crossings above the watermark;
    the partial quarters at either end, if any, from the log itself. One statement reads the
    counts, the live crossings and the watermark (one snapshot); should a roll-up have moved
    the watermark since it was read, the statement is run again with the new one.
    """
    mark = watermark(session)
    for _attempt in range(5):
        rows = session.execute(_counts_statement(session, community_id, start, end, mark)).all()
        seen = next((int(q) for q, _, _, n in rows if n == -1), 0)
        if seen == mark:
            break
        mark = seen
    for quarter, direction, allowed, n in rows:
        if n != -1:
            yield quarter_start(int(quarter)), direction, bool(allowed), int(n)


def _counts_statement(
    session: Session, community_id: int, start: datetime, end: datetime, mark: int
) -> Any:
    dialect = session.get_bind().dialect.name
    first, last = _first_whole_quarter(start), quarter_of(end)
    whole_from, whole_to = (
        (quarter_start(first), quarter_start(last)) if first < last else (end, end)
    )
    community = Crossing.community_id == community_id

    def log(*where: ColumnElement[bool]) -> Select[Any]:
        grouped = _grouped(dialect, community, *where)
        return grouped.with_only_columns(*list(grouped.selected_columns)[1:])

    parts: list[Any] = [
        log(Crossing.scanned_at >= start, Crossing.scanned_at < whole_from),
        log(Crossing.scanned_at >= whole_to, Crossing.scanned_at < end),
        select(
            CrossingRollup.last_crossing_id,
            literal(""),
            literal(False),
            literal(-1),
        ).where(CrossingRollup.id == _MARK_ROW),
    ]
    if first < last:
        parts.append(
            select(
                _COUNTS.c.quarter, _COUNTS.c.direction, _COUNTS.c.allowed, _COUNTS.c.crossings
            ).where(
                _COUNTS.c.community_id == community_id,
                _COUNTS.c.quarter >= first,
                _COUNTS.c.quarter < last,
            )
        )
        parts.append(
            log(
                Crossing.id > mark,
                and_(Crossing.scanned_at >= whole_from, Crossing.scanned_at < whole_to),
            )
        )
    return union_all(*parts)
