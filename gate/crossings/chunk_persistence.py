"""An upload chunk's set-based statements (:mod:`gate.crossings.upload_chunk`).

A chunk of offline crossings is read and written in a handful of statements instead of two
round trips per item: its households locked (in id order, as every writer locks them) and
read in one statement, then its gate; one multi-row INSERT of its crossings (a COPY on
PostgreSQL), one update of the gate's chain head, one per changed household. The scan path's
statements and their pieces (the zone-lock check, the state and head updates) are
:mod:`gate.crossings.persistence`'s, reused so that both paths store the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Dialect,
    Row,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from gate.crossings.chain import ChainHead
from gate.crossings.persistence import (
    ADVANCE_GATE,
    CROSSINGS,
    CROSSINGS_TABLE,
    GATES,
    HOUSEHOLDS,
    HOUSEHOLDS_TABLE,
    STORE_STATE,
    ZONED,
    StateWrite,
    state_params,
)
from gate.db import UTCDateTime
from gate.issuing.models import IssuedPass
from gate.roster.models import DutyShift

_CHUNK_HOUSEHOLD_COLUMNS = (
    HOUSEHOLDS.id,
    HOUSEHOLDS.generation,
    HOUSEHOLDS.status,
    HOUSEHOLDS.quarantine_until,
    HOUSEHOLDS.state_json,
    # A sealed lock that still holds at the chunk's earliest scan covers it: only then can
    # one decide an exit of the chunk, and ``household_locks`` is read for its items.
    ZONED.label("zoned"),
)
_LOCK_CHUNK_HOUSEHOLDS = (
    select(*_CHUNK_HOUSEHOLD_COLUMNS)
    .where(
        HOUSEHOLDS.community_id == bindparam("community_id"),
        HOUSEHOLDS.id.in_(bindparam("household_ids", expanding=True)),
    )
    .order_by(HOUSEHOLDS.id)
    .with_for_update(of=HOUSEHOLDS_TABLE)
)
_ASKED = (
    func.unnest(bindparam("household_ids", type_=ARRAY(BigInteger())))
    .table_valued("id")
    .render_derived(name="asked")
)
_LOCK_CHUNK_HOUSEHOLDS_PG = (
    # One index probe per household, whatever the statistics say (an IN list's plan may
    # scan the whole table: see the client ids below), locked in id order all the same.
    select(*_CHUNK_HOUSEHOLD_COLUMNS)
    .select_from(_ASKED.join(HOUSEHOLDS_TABLE, HOUSEHOLDS.id == _ASKED.c.id))
    .where(HOUSEHOLDS.community_id == bindparam("community_id"))
    .order_by(HOUSEHOLDS.id)
    .with_for_update(of=HOUSEHOLDS_TABLE)
)
_LOCK_GATE_OF = (
    select(GATES.community_id, GATES.chain_seq, GATES.chain_hash)
    .where(GATES.id == bindparam("gate"))
    .with_for_update()
)
_PASS_STATUSES = select(IssuedPass.pass_id, IssuedPass.status).where(
    IssuedPass.pass_id.in_(bindparam("pass_ids", expanding=True))
)
_PASS_STATUSES_PG = text(
    "SELECT passes.pass_id, passes.status FROM unnest(CAST(:pass_ids AS BYTEA[]))"
    " AS asked(pass_id) JOIN passes ON passes.pass_id = asked.pass_id"
).columns(IssuedPass.pass_id, IssuedPass.status)  # the status read as a PassStatus
_CROSSINGS_BY_CLIENT_IDS = select(CROSSINGS.client_id).where(
    CROSSINGS.client_id.in_(bindparam("client_ids", expanding=True))
)
_CROSSINGS_BY_CLIENT_IDS_PG = text(
    "SELECT crossings.client_id FROM unnest(CAST(:client_ids AS VARCHAR[])) AS asked(client_id)"
    " JOIN crossings ON crossings.client_id = asked.client_id"
)
_SHIFTS_BETWEEN = (
    select(DutyShift.id, DutyShift.starts_at, DutyShift.ends_at)
    .where(
        DutyShift.gate_id == bindparam("gate"),
        DutyShift.starts_at <= bindparam("last", type_=UTCDateTime()),
        DutyShift.ends_at > bindparam("first", type_=UTCDateTime()),
    )
    .order_by(DutyShift.starts_at)
)
_INSERT_ROWS = insert(CROSSINGS_TABLE)
_STORE_STATE_KEEPING_TIME = (
    update(HOUSEHOLDS_TABLE)
    .where(HOUSEHOLDS.id == bindparam("household"))
    .values(state_json=bindparam("new_state_json"), out_count=bindparam("new_out_count"))
)


@dataclass(frozen=True)
class ChunkRead:
    """What an upload chunk's decisions need, read with its households and gate locked."""

    households: list[Row[*tuple[Any, ...]]]
    """The households of the community among those asked for (id, generation, status,
    quarantine_until, state_json, ``zoned``), in id order."""
    gate: ChainHead | None
    """The gate's chain head; None when it is not a gate of the community."""
    pass_statuses: dict[bytes, Any]
    """Pass id -> its issued pass's status (absent: no such pass)."""
    known_client_ids: set[str]
    """The asked-for client ids a stored crossing already has."""
    shifts: list[tuple[int, datetime, datetime]]
    """The gate's duty shifts over the chunk's scans: (id, starts_at, ends_at)."""


def read_chunk(
    session: Session,
    *,
    community_id: int,
    gate_id: int,
    household_ids: Iterable[int],
    pass_ids: Iterable[bytes],
    client_ids: Iterable[str],
    first: datetime,
    last: datetime,
) -> ChunkRead:
    """Lock an upload chunk's households (in id order, as every writer does) and then its
    gate, and read everything its offline decisions need: five statements for the chunk,
    not two round trips per item (:func:`lock_household_and_gate`, :func:`insert_crossing`).
    ``first``/``last``: the chunk's earliest and latest scan."""
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    households = list(
        connection.execute(
            _LOCK_CHUNK_HOUSEHOLDS_PG if postgresql else _LOCK_CHUNK_HOUSEHOLDS,
            {
                "community_id": community_id,
                "household_ids": sorted(set(household_ids)),
                "decided_at": first,
            },
        )
    )
    locked = connection.execute(_LOCK_GATE_OF, {"gate": gate_id}).first()
    gate = (
        ChainHead(gate_id, locked.chain_seq, locked.chain_hash)
        if locked is not None and locked.community_id == community_id
        else None
    )
    statuses = connection.execute(
        _PASS_STATUSES_PG if postgresql else _PASS_STATUSES, {"pass_ids": sorted(set(pass_ids))}
    )
    ids = sorted(set(client_ids))
    if postgresql:
        # One index probe per id, whatever the table's statistics say: the IN list's plan
        # turned into a scan of the whole table as it grew (0.5 ms of database CPU a row
        # at 40,000 crossings, most of the drain's).
        known = connection.execute(_CROSSINGS_BY_CLIENT_IDS_PG, {"client_ids": ids})
    else:
        known = connection.execute(_CROSSINGS_BY_CLIENT_IDS, {"client_ids": ids})
    shifts = connection.execute(_SHIFTS_BETWEEN, {"gate": gate_id, "first": first, "last": last})
    return ChunkRead(
        households=households,
        gate=gate,
        pass_statuses={bytes(pass_id): status for pass_id, status in statuses},
        known_client_ids={client_id for (client_id,) in known},
        shifts=[(shift_id, starts, ends) for shift_id, starts, ends in shifts],
    )


def shift_of(shifts: list[tuple[int, datetime, datetime]], when: datetime) -> int | None:
    """:func:`gate.roster.queries.shift_at` over shifts read once: the latest shift starting
    at or before ``when``, kept only if it has not ended (a gate's shifts never overlap)."""
    found = None
    for shift_id, starts_at, ends_at in shifts:
        if starts_at > when:
            break
        found = (shift_id, ends_at)
    return None if found is None or found[1] <= when else found[0]


def new_crossing_ids(session: Session, count: int) -> list[int]:
    """``count`` ids for crossings about to be inserted by this transaction, in the order
    single inserts would have got them: from the id sequence on PostgreSQL; after the
    largest id on SQLite (its writing transaction holds the database's write lock, and the
    table has no AUTOINCREMENT: a row's id is the largest plus one)."""
    connection = session.connection()
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('crossings', 'id'))"
                " FROM generate_series(1, :count)"
            ),
            {"count": count},
        )
        return sorted(int(value) for (value,) in rows)
    largest = connection.scalar(select(func.max(CROSSINGS.id))) or 0
    return list(range(int(largest) + 1, int(largest) + 1 + count))


def insert_chunk(
    session: Session,
    rows: list[dict[str, object]],
    head: ChainHead,
    states: Mapping[int, tuple[Mapping[str, object], datetime | None]],
) -> None:
    """Write an upload chunk at once: its crossings (complete rows, ``id`` and chain columns
    included, in chain order; one multi-row INSERT, a COPY on PostgreSQL), the gate's new
    chain ``head``, and each changed household's state (``(columns, at)``: ``at`` None when
    the last write of it was the timeline's, which leaves ``updated_at`` to the column's own
    update default)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _insert_copy(connection, rows)
    else:
        connection.execute(_INSERT_ROWS, rows)
    connection.execute(
        ADVANCE_GATE,
        {"gate": head.gate_id, "head_seq": head.gate_seq, "head_hash": head.row_hash},
    )
    stamped = [
        {**state_params(StateWrite(household_id, columns, at))}
        for household_id, (columns, at) in sorted(states.items())
        if at is not None
    ]
    kept = [
        {
            "household": household_id,
            "new_state_json": columns["state_json"],
            "new_out_count": columns["out_count"],
        }
        for household_id, (columns, at) in sorted(states.items())
        if at is None
    ]
    if stamped:
        connection.execute(STORE_STATE, stamped)
    if kept:
        connection.execute(_STORE_STATE_KEEPING_TIME, kept)


@dataclass(frozen=True)
class _CopyForm:
    """The chunk's rows on PostgreSQL: one ``COPY ... FROM STDIN`` of every column."""

    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    """Each column's key and its type's bind processor (``UTCDateTime``, enums), in order."""


_COPY_FORMS: dict[str, _CopyForm] = {}


def _copy_form(dialect: Dialect) -> _CopyForm:
    form = _COPY_FORMS.get(dialect.name)
    if form is None:
        columns = list(CROSSINGS_TABLE.columns)
        names = ", ".join(column.name for column in columns)
        form = _COPY_FORMS[dialect.name] = _CopyForm(
            # Names from the table definition, values streamed: no input in it.
            sql=f"COPY {CROSSINGS_TABLE.name} ({names}) FROM STDIN",
            binds=tuple(
                (column.key, column.type._cached_bind_processor(dialect)) for column in columns
            ),
        )
    return form


def _insert_copy(connection: Connection, rows: list[dict[str, object]]) -> None:
    """Insert complete crossing rows with one COPY in this transaction (psycopg formats each
    row in C: a fifth of the client CPU of an INSERT of one array per column, whose arrays
    psycopg builds value by value in Python; the database's work is smaller too). Values
    go through the column types' bind processors as an INSERT's would."""
    form = _copy_form(connection.dialect)
    driver = connection.connection.driver_connection
    assert driver is not None  # an open connection in a transaction
    with driver.cursor() as cursor, cursor.copy(form.sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    row[key] if processor is None else processor(row[key])
                    for key, processor in form.binds
                ]
            )
