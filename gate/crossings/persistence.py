"""Storing crossings: the scan path's SQLAlchemy Core statements, compiled once.

The scan path is every gate's hot path, so it skips the ORM's unit of work: statements run
on the session's connection (its transaction), and rows come back as plain values. ORM
instances of a household or gate that the same session loaded earlier are not refreshed by
these writes; code that reads them afterwards in the same session reloads them
(``session.refresh``), as it would after any Core statement.

This module is the only place that knows the SQLite and PostgreSQL paths differ: on
PostgreSQL the new chain head and household state ride along with the crossing's insert as
data-modifying CTEs (one round trip instead of three); SQLite runs the three statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Row,
    RowMapping,
    Table,
    bindparam,
    exists,
    false,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from gate.community.models import Building, Compound
from gate.crossings.chain import HASHED_ORDER, ChainHead, content_hash
from gate.crossings.models import Crossing
from gate.db import DriverStatement, UTCDateTime
from gate.devices.models import Gate
from gate.households.models import Household, Member
from gate.households.operations import HEAD_FIRST
from gate.issuing.models import IssuedPass
from gate.roster.models import DutyShift
from gate.roster.queries import shift_at
from gate.zones.models import ZoneLockRecord
from gate.zones.queries import covers as zone_covers
from gate.zones.queries import deciding as zone_deciding

# The tables and statement pieces below are shared with the upload chunk's set-based
# statements (gate.crossings.chunk_persistence), so both paths store the same columns.
HOUSEHOLDS_TABLE = cast(Table, Household.__table__)
HOUSEHOLDS = HOUSEHOLDS_TABLE.c
CROSSINGS_TABLE = cast(Table, Crossing.__table__)
CROSSINGS = CROSSINGS_TABLE.c
_GATES_TABLE = cast(Table, Gate.__table__)
GATES = _GATES_TABLE.c

STORED_COLUMNS = tuple(column.key for column in CROSSINGS_TABLE.columns if column.key != "id")
"""Every column a new crossing is inserted with (all of them but the generated id)."""

HEAD_NAME = select(Member.name).order_by(*HEAD_FIRST).limit(1)
"""The household head's name (the first member when none is marked head); add the
``Member.household_id`` condition."""

_CROSSING_BY_CLIENT_ID = select(CROSSINGS.id).where(CROSSINGS.client_id == bindparam("client_id"))
_DECIDED_AT = bindparam("decided_at", type_=UTCDateTime())
# The duty shift on at the gate when decided (``gate.roster.queries.shift_at``'s answer: a
# gate's shifts never overlap) and whether a sealed zone lock covers the household then
# (``gate.zones.queries.household_locks`` is read only when one does): part of the scan's one
# read, since two more queries a scan cost ~40 % of the server's CPU (bench/scan_api.py).
_SHIFT_ON = (
    select(DutyShift.id)
    .where(
        DutyShift.gate_id == GATES.id,
        DutyShift.starts_at <= _DECIDED_AT,
        DutyShift.ends_at > _DECIDED_AT,
    )
    .order_by(DutyShift.starts_at.desc())
    .limit(1)
)
ZONED = exists(
    select(ZoneLockRecord.id)
    .select_from(Building.__table__.join(Compound.__table__, Compound.id == Building.compound_id))
    .where(
        Building.id == HOUSEHOLDS.building_id,
        ZoneLockRecord.community_id == HOUSEHOLDS.community_id,
        zone_deciding(cast(datetime, _DECIDED_AT)),
        zone_covers(),
    )
)
_LOCK_HOUSEHOLD_AND_GATE = (
    select(
        HOUSEHOLDS.id,
        HOUSEHOLDS.code,
        HOUSEHOLDS.generation,
        HOUSEHOLDS.status,
        HOUSEHOLDS.quarantine_until,
        HOUSEHOLDS.state_json,
        HEAD_NAME.where(Member.household_id == HOUSEHOLDS.id).scalar_subquery().label("head_name"),
        select(IssuedPass.status)
        .where(IssuedPass.pass_id == bindparam("pass_id"))
        .scalar_subquery()
        .label("pass_status"),
        _CROSSING_BY_CLIENT_ID.scalar_subquery().label("replay_of"),
        # Whether the household already has a counted crossing dated after this one: only
        # then must the household timeline be replayed after the insert (read here, in the
        # scan's one read, not by a second query).
        exists(
            select(CROSSINGS.id).where(
                CROSSINGS.household_id == HOUSEHOLDS.id,
                CROSSINGS.allowed == true(),
                CROSSINGS.rejected == false(),
                CROSSINGS.scanned_at > bindparam("scanned_at", type_=UTCDateTime()),
            )
        ).label("later"),
        _SHIFT_ON.scalar_subquery().label("shift_id"),
        ZONED.label("zoned"),
        GATES.chain_seq,
        GATES.chain_hash,
    )
    .select_from(HOUSEHOLDS_TABLE.join(_GATES_TABLE, GATES.community_id == HOUSEHOLDS.community_id))
    .where(
        HOUSEHOLDS.id == bindparam("household_id"),
        HOUSEHOLDS.community_id == bindparam("community_id"),
        GATES.id == bindparam("gate"),
    )
    .with_for_update(of=[HOUSEHOLDS_TABLE, _GATES_TABLE])
)
_HOUSEHOLD_IN_COMMUNITY = select(HOUSEHOLDS.id).where(
    HOUSEHOLDS.id == bindparam("household_id"),
    HOUSEHOLDS.community_id == bindparam("community_id"),
)
_LOCK_GATE = (
    select(GATES.chain_seq, GATES.chain_hash).where(GATES.id == bindparam("gate")).with_for_update()
)
_STORED = (
    select(
        CROSSINGS_TABLE,
        HOUSEHOLDS.code.label("household_code"),
        HEAD_NAME.where(Member.household_id == CROSSINGS.household_id)
        .scalar_subquery()
        .label("head_name"),
    )
    .select_from(
        CROSSINGS_TABLE.outerjoin(HOUSEHOLDS_TABLE, HOUSEHOLDS.id == CROSSINGS.household_id)
    )
    .where(CROSSINGS.client_id == bindparam("client_id"))
)
ADVANCE_GATE = (
    update(_GATES_TABLE)
    .where(GATES.id == bindparam("gate"))
    .values(chain_seq=bindparam("head_seq"), chain_hash=bindparam("head_hash"))
)
STORE_STATE = (
    update(HOUSEHOLDS_TABLE)
    .where(HOUSEHOLDS.id == bindparam("household"))
    .values(
        state_json=bindparam("new_state_json"),
        out_count=bindparam("new_out_count"),
        updated_at=bindparam("state_updated_at", type_=UTCDateTime()),
    )
)
_PARAM_PREFIX = "crossing_"
_INSERT = insert(CROSSINGS_TABLE).values(
    # Every value an explicit, prefixed parameter: on PostgreSQL the updates ride along as
    # CTEs, and a parameter named like a column would also become a SET value of theirs.
    {
        name: bindparam(_PARAM_PREFIX + name, type_=CROSSINGS_TABLE.c[name].type)
        for name in STORED_COLUMNS
    }
)
_INSERT_ADVANCING_GATE = _INSERT.add_cte(ADVANCE_GATE.cte("advanced_gate")).returning(CROSSINGS.id)
_INSERT_ADVANCING_GATE_AND_STATE = _INSERT_ADVANCING_GATE.add_cte(STORE_STATE.cte("stored_state"))
# On psycopg the scan's locking read and insert skip SQLAlchemy's per-execution work.
_LOCK_ON_DRIVER = DriverStatement(_LOCK_HOUSEHOLD_AND_GATE)
_INSERT_ADVANCING_GATE_ON_DRIVER = DriverStatement(_INSERT_ADVANCING_GATE)
_INSERT_ADVANCING_GATE_AND_STATE_ON_DRIVER = DriverStatement(_INSERT_ADVANCING_GATE_AND_STATE)


@dataclass(frozen=True)
class StateWrite:
    """A household's new crossing-driven columns (``state_json``, ``out_count``), to store."""

    household_id: int
    columns: Mapping[str, object]
    at: datetime


def lock_household_and_gate(
    session: Session,
    *,
    household_id: int,
    community_id: int,
    pass_id: bytes,
    client_id: str,
    gate_id: int,
    scanned_at: datetime,
    decided_at: datetime | None = None,
) -> Row[*tuple[Any, ...]] | None:
    """A scan's one read: the household (of ``community_id``) and gate ``gate_id``'s chain
    head, both locked (households first, as everywhere), with all else the decision needs:
    ``head_name``, ``pass_status`` (None: no such pass), ``replay_of`` (the id of a crossing
    already stored under ``client_id``), ``chain_seq``/``chain_hash``, and at ``decided_at``
    (default ``scanned_at``) the gate's duty ``shift_id`` and ``zoned`` (a sealed zone lock
    covers the household). None when there is no such household in the community.

    The chain head is read from the locked gate row itself, so a scan that waited for the
    lock sees the head the previous holder wrote. The locks are no-ops on SQLite, whose
    writing transactions hold the write lock from BEGIN.
    """
    params = {
        "household_id": household_id,
        "community_id": community_id,
        "pass_id": pass_id,
        "client_id": client_id,
        "gate": gate_id,
        "scanned_at": scanned_at,
        "decided_at": scanned_at if decided_at is None else decided_at,
    }
    # A Core row, or on psycopg a named tuple of the same values (read by attribute alike).
    return cast("Row[*tuple[Any, ...]] | None", _LOCK_ON_DRIVER.first(session.connection(), params))


def known_household(session: Session, household_id: int, community_id: int) -> int | None:
    """``household_id`` when that household is registered in ``community_id``, else None
    (a crossing is attributed only to a household of its own community that exists)."""
    params = {"household_id": household_id, "community_id": community_id}
    found = session.connection().scalar(_HOUSEHOLD_IN_COMMUNITY, params)
    return None if found is None else int(found)


def crossing_id_of(session: Session, client_id: str) -> int | None:
    """The id of the crossing stored under the client's UUID, or None."""
    crossing_id = session.connection().scalar(_CROSSING_BY_CLIENT_ID, {"client_id": client_id})
    return None if crossing_id is None else int(crossing_id)


def stored_crossing(session: Session, client_id: str) -> RowMapping | None:
    """The crossing stored under ``client_id`` (all its columns), with its household's
    ``household_code`` and ``head_name`` (None without a household); None if none is."""
    return session.connection().execute(_STORED, {"client_id": client_id}).mappings().first()


def insert_crossing(
    session: Session,
    values: Mapping[str, object],
    head: ChainHead | None,
    state: StateWrite | None,
) -> dict[str, object]:
    """Append a crossing to its gate's hash chain and write it, the new chain head and the
    household's new ``state``; return the stored row's values (``id`` included).

    ``values``: the crossing's columns but the chain's (``gate_seq``, ``prev_hash``,
    ``row_hash``, computed here); missing columns are stored empty, but an absent
    ``shift_id`` is the gate's duty shift at ``scanned_at`` (one lookup). ``head``: the
    gate's chain head, already locked by this transaction; None to lock and read it here.
    """
    connection = session.connection()
    row = dict.fromkeys(STORED_COLUMNS)
    row.update(values)
    if row["people"] is None:
        row["people"] = 1
    gate_id = cast(int, row["gate_id"])
    if "shift_id" not in values:  # recorded outside record_scan (visitors, vehicles, walk-ins)
        row["shift_id"] = shift_at(session, gate_id, cast(datetime, row["scanned_at"]))
    if head is None:
        locked = connection.execute(_LOCK_GATE, {"gate": gate_id}).first()
        if locked is None:
            raise LookupError(f"no gate {gate_id}")
        head = ChainHead(gate_id, locked.chain_seq, locked.chain_hash)
    row["gate_seq"] = head.gate_seq + 1
    row["prev_hash"] = head.row_hash
    row["row_hash"] = content_hash(head.row_hash, [row[name] for name in HASHED_ORDER])
    params = {_PARAM_PREFIX + name: value for name, value in row.items()}
    gate = {"gate": gate_id, "head_seq": row["gate_seq"], "head_hash": row["row_hash"]}
    if connection.dialect.name == "postgresql":
        statement, params = _INSERT_ADVANCING_GATE_ON_DRIVER, {**params, **gate}
        if state is not None:
            statement = _INSERT_ADVANCING_GATE_AND_STATE_ON_DRIVER
            params = {**params, **state_params(state)}
        crossing_id = statement.first(connection, params).id
    else:
        primary_key = connection.execute(_INSERT, params).inserted_primary_key
        if primary_key is None:
            raise RuntimeError("the database returned no id for the inserted crossing")
        crossing_id = primary_key[0]
        connection.execute(ADVANCE_GATE, gate)
        if state is not None:
            connection.execute(STORE_STATE, state_params(state))
    row["id"] = crossing_id
    return row


def state_params(state: StateWrite) -> dict[str, object]:
    """The bind parameters of :data:`STORE_STATE` for ``state``."""
    return {
        "household": state.household_id,
        "new_state_json": state.columns["state_json"],
        "new_out_count": state.columns["out_count"],
        "state_updated_at": state.at,
    }


_LOCK_HOUSEHOLDS = (
    select(HOUSEHOLDS.id)
    .where(
        HOUSEHOLDS.community_id == bindparam("community_id"),
        HOUSEHOLDS.id.in_(bindparam("household_ids", expanding=True)),
    )
    .order_by(HOUSEHOLDS.id)
    .with_for_update()
)


def lock_households(session: Session, community_id: int, household_ids: Iterable[int]) -> None:
    """Lock the households of ``community_id`` among ``household_ids``, in id order (the
    order every writer locks households in). A no-op on SQLite (see
    :func:`lock_household_and_gate`)."""
    ids = sorted(set(household_ids))
    if ids:
        params = {"community_id": community_id, "household_ids": ids}
        session.connection().execute(_LOCK_HOUSEHOLDS, params).all()
