"""Deciding and recording crossings: the server's half of the scan API.

One crossing is decided and recorded in one transaction (the caller's): the pass is
verified first without touching the database, then the household row and the gate row
are locked in one statement (``SELECT ... FOR UPDATE OF households, gates``: households
before gates, always, so two scans cannot deadlock; SQLite transactions begin IMMEDIATE),
the core decides, the household state advances, and the crossing is appended to its gate's
hash chain. Idempotent on the client's UUID: a replay returns the stored crossing.

Offline crossings arrive later with the verdict the scanner gave. They are stored as
they happened (the household state advances by what physically happened), re-decided
by the server at their scan time against the household's state as recorded so far, and
flagged as a conflict (``conflict_code``: the server's refusal code) where the scanner
allowed what the server would have refused. Nothing is rolled back. A household's
crossings are judged in the order they arrive, so of two conflicting offline crossings the
one uploaded second is flagged: the later one, when each household's crossings arrive in
scan-time order.

The scan path is every gate's hot path, so it runs as SQLAlchemy Core statements compiled
once, on the session's connection (no unit of work): one statement locks the household and
the gate and brings along everything else the decision needs (the head's name for the
label, the pass's revocation, a crossing already stored under the client's UUID, the
chain head), then one insert and at most two updates. ORM instances of the household or
gate that the session already holds are expired, so nothing later reads a stale copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from gate.community.context import CommunityContext
from gate.crossings.chain import ChainHead, seal
from gate.crossings.models import Crossing
from gate.db import Base, UTCDateTime
from gate.devices.models import Gate
from gate.households.decision_state import household_state, state_columns
from gate.households.models import Household, Member
from gate.households.validation import mask_name
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.screen_codes import check_presented
from passes import (
    Direction,
    Override,
    PassCheck,
    Verdict,
    VerifiedPass,
    advance,
    decide,
)

SMALLINT_RANGE = range(-32768, 32768)


@dataclass(frozen=True)
class ScanRequest:
    """One crossing as a scanner (or the browser gate view) reports it."""

    client_id: str
    pass_text: str
    direction: Direction
    temperature: object
    """Integer tenths of a degree, None, or whatever the client sent (a sensor error)."""
    scanned_at: datetime
    operator: str | None = None
    override: Override | None = None
    latency_ms: int | None = None


@dataclass(frozen=True)
class OfflineClaim:
    """The verdict a scanner reached offline, as it reports it."""

    allowed: bool
    code: str | None
    codes: tuple[str, ...]
    notes: tuple[str, ...]
    rule_version: int


@dataclass(frozen=True)
class Recorded:
    """A stored crossing; ``replay`` when it was already stored by an earlier call.

    ``household_label`` is filled for online scans only (the volunteer sees it); an offline
    upload's answer does not carry it, so it is not looked up.
    """

    crossing: Crossing
    replay: bool
    household_label: str | None


@dataclass(frozen=True)
class Origin:
    """Who reports the crossing: a device at a gate, or a user on the browser gate view."""

    gate_id: int
    device_id: int | None = None
    user_id: int | None = None


def record_scan(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    now: datetime,
    offline: OfflineClaim | None = None,
) -> Recorded:
    """Decide and record one crossing (flushes; the caller commits).

    Online (``offline is None``): decided at the server's ``now``; the stored verdict
    is the server's. Offline: decided at ``request.scanned_at``; the stored verdict is
    the scanner's, with ``conflict`` set where the server would have refused.
    """
    decided_at = now if offline is None else request.scanned_at
    check = check_presented(session, context=context, text=request.pass_text, now=decided_at)
    connection = session.connection()
    locked = None
    if isinstance(check, VerifiedPass):
        locked = connection.execute(
            _LOCK_HOUSEHOLD_AND_GATE,
            {
                "household_id": check.fields.household_id,
                "community_id": context.community_id,
                "pass_id": check.fields.pass_id,
                "client_id": request.client_id,
                "gate": origin.gate_id,
            },
        ).first()
    if locked is not None:
        replay_of = locked.replay_of
    else:
        replay_of = connection.scalar(_CROSSING_BY_CLIENT_ID, {"client_id": request.client_id})
    if replay_of is not None:
        existing = session.get_one(Crossing, replay_of)
        label = household_label(session, existing) if offline is None else None
        return Recorded(existing, replay=True, household_label=label)
    state = household_state(locked) if locked is not None else None
    revoked = _revoked(check, None if locked is None else locked.pass_status)
    verdict = decide(
        check,
        keys=context.keys,
        community_id=context.community_id,
        household=state,
        revoked_pass_ids=revoked,
        rules=context.rules,
        direction=request.direction,
        temperature=request.temperature,
        now=decided_at,
        override=request.override,
    )
    crossing = _crossing_row(context, origin, request, verdict, now)
    if offline is not None:
        _apply_offline_claim(crossing, offline, verdict)
    if locked is None or state is None:  # no household: nothing locked yet, nothing to label
        _store(session, crossing, None, None)
        return Recorded(crossing, replay=False, household_label=None)
    after = advance(state, request.direction, crossing.allowed, decided_at, context.rules)
    new_state = StateWrite(locked.id, state_columns(after), now) if after != state else None
    head = ChainHead(origin.gate_id, locked.chain_seq, locked.chain_hash)
    _store(session, crossing, head, new_state)
    label = _label(locked.code, locked.head_name) if offline is None else None
    return Recorded(crossing, replay=False, household_label=label)


def record_rejected_upload(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    client_id: str,
    raw: str,
    reason: str,
    now: datetime,
) -> Crossing:
    """Keep an uploaded item the server cannot read as a crossing: stored, flagged, chained."""
    crossing = Crossing(
        client_id=client_id,
        community_id=context.community_id,
        gate_id=origin.gate_id,
        device_id=origin.device_id,
        user_id=origin.user_id,
        direction=Direction.IN,
        scanned_at=now,
        recorded_at=now,
        allowed=False,
        code="rejected_upload",
        codes="rejected_upload",
        flags="offline",
        rule_version=context.rules.version,
        offline=True,
        # Set, not left to the column default: the row is hashed before it is flushed.
        conflict=False,
        rejected=True,
        rejection_reason=f"{reason}: {raw[:500]}",
    )
    _store(session, crossing, None, None)
    return crossing


def household_label(session: Session, crossing: Crossing) -> str | None:
    """What the volunteer sees: the household code and the head's masked name."""
    if crossing.household_id is None:
        return None
    household = session.get(Household, crossing.household_id)
    if household is None:
        return None
    head = session.scalar(_HEAD_NAME.where(Member.household_id == household.id))
    return _label(household.code, head)


def _label(code: str, head_name: str | None) -> str:
    return f"{code} {mask_name(head_name)}" if head_name else code


_HOUSEHOLDS_TABLE = cast(Table, Household.__table__)
_HOUSEHOLDS = _HOUSEHOLDS_TABLE.c
_CROSSINGS_TABLE = cast(Table, Crossing.__table__)
_GATES_TABLE = cast(Table, Gate.__table__)
_GATES = _GATES_TABLE.c
_STORED_COLUMNS = tuple(column.key for column in _CROSSINGS_TABLE.columns if column.key != "id")
_HEAD_NAME = select(Member.name).order_by(Member.is_head.desc(), Member.id).limit(1)
_CROSSING_BY_CLIENT_ID = select(Crossing.id).where(Crossing.client_id == bindparam("client_id"))
_LOCK_HOUSEHOLD_AND_GATE = (
    select(
        _HOUSEHOLDS.id,
        _HOUSEHOLDS.code,
        _HOUSEHOLDS.generation,
        _HOUSEHOLDS.status,
        _HOUSEHOLDS.quarantine_until,
        _HOUSEHOLDS.state_json,
        _HEAD_NAME.where(Member.household_id == _HOUSEHOLDS.id)
        .scalar_subquery()
        .label("head_name"),
        select(IssuedPass.status)
        .where(IssuedPass.pass_id == bindparam("pass_id"))
        .scalar_subquery()
        .label("pass_status"),
        _CROSSING_BY_CLIENT_ID.scalar_subquery().label("replay_of"),
        _GATES.chain_seq,
        _GATES.chain_hash,
    )
    .select_from(
        _HOUSEHOLDS_TABLE.join(_GATES_TABLE, _GATES.community_id == _HOUSEHOLDS.community_id)
    )
    .where(
        _HOUSEHOLDS.id == bindparam("household_id"),
        _HOUSEHOLDS.community_id == bindparam("community_id"),
        _GATES.id == bindparam("gate"),
    )
    .with_for_update(of=[_HOUSEHOLDS_TABLE, _GATES_TABLE])
)
"""A scan's one read: the household and the gate's chain head, both locked (households
first, as everywhere), with all else the decision needs. The chain head is read from the
locked gate row itself, so a scan that waited for the lock sees the head the previous
holder wrote. No-op locks on SQLite, whose transactions hold the write lock from BEGIN."""
_LOCK_GATE = (
    select(_GATES.chain_seq, _GATES.chain_hash)
    .where(_GATES.id == bindparam("gate"))
    .with_for_update()
)
"""The chain head alone, for a crossing without a household (forged or unknown pass)."""
_ADVANCE_GATE = (
    update(_GATES_TABLE)
    .where(_GATES.id == bindparam("gate"))
    .values(chain_seq=bindparam("head_seq"), chain_hash=bindparam("head_hash"))
)
_STORE_STATE = (
    update(_HOUSEHOLDS_TABLE)
    .where(_HOUSEHOLDS.id == bindparam("household"))
    .values(
        state_json=bindparam("new_state_json"),
        out_count=bindparam("new_out_count"),
        updated_at=bindparam("state_updated_at", type_=UTCDateTime()),
    )
)
"""A household's new crossing-driven state (parameters: :func:`_state`)."""
_PARAM_PREFIX = "crossing_"
_INSERT = insert(_CROSSINGS_TABLE).values(
    # Every value an explicit, prefixed parameter: on PostgreSQL the updates ride along as
    # CTEs, and a parameter named like a column would also become a SET value of theirs.
    {
        name: bindparam(_PARAM_PREFIX + name, type_=_CROSSINGS_TABLE.c[name].type)
        for name in _STORED_COLUMNS
    }
)
"""The crossing (parameters: its columns, prefixed ``crossing_``)."""
_INSERT_ADVANCING_GATE = _INSERT.add_cte(_ADVANCE_GATE.cte("advanced_gate")).returning(
    _CROSSINGS_TABLE.c.id
)
"""PostgreSQL: the crossing and the new chain head, in one statement."""
_INSERT_ADVANCING_GATE_AND_STATE = _INSERT_ADVANCING_GATE.add_cte(_STORE_STATE.cte("stored_state"))
"""PostgreSQL: the same, and the household's new state."""


def _revoked(check: PassCheck, pass_status: PassStatus | None) -> frozenset[bytes]:
    """The revoked pass ids ``decide`` needs: ``check``'s own if its stored status (None:
    not found) is revoked."""
    if isinstance(check, VerifiedPass) and pass_status == PassStatus.REVOKED:
        return frozenset({check.fields.pass_id})
    return frozenset()


def _expire_loaded(session: Session, model: type[Base], key: int) -> None:
    """Expire the session's instance of ``model`` ``key``, if it holds one: a Core statement
    just changed its row."""
    instance = session.identity_map.get(identity_key(model, key))
    if instance is not None:
        session.expire(instance)


def _crossing_row(
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    verdict: Verdict,
    now: datetime,
) -> Crossing:
    temperature = verdict.temperature_tenths
    override = verdict.override
    return Crossing(
        client_id=request.client_id,
        community_id=context.community_id,
        gate_id=origin.gate_id,
        device_id=origin.device_id,
        user_id=origin.user_id,
        household_id=verdict.household_id,
        pass_id=verdict.pass_id,
        direction=request.direction,
        scanned_at=request.scanned_at,
        recorded_at=now,
        temperature_tenths=temperature if temperature in SMALLINT_RANGE else None,
        allowed=verdict.allowed,
        code=verdict.code.value if verdict.code else None,
        codes=" ".join(code.value for code in verdict.codes),
        flags=" ".join(note.value for note in verdict.notes),
        next_exit_at=verdict.next_exit_at,
        rule_version=verdict.rule_version,
        operator=request.operator,
        override_reason=override.reason if override else None,
        override_supervisor=override.supervisor if override else None,
        offline=False,
        conflict=False,
        rejected=False,
        latency_ms=request.latency_ms,
    )


def _apply_offline_claim(crossing: Crossing, claim: OfflineClaim, server: Verdict) -> None:
    crossing.offline = True
    crossing.allowed = claim.allowed
    crossing.code = claim.code
    crossing.codes = " ".join(claim.codes)
    crossing.flags = " ".join(claim.notes)
    crossing.rule_version = claim.rule_version
    if claim.allowed and not server.allowed:
        crossing.conflict = True
        # The code the server would have refused with ("quota", "already_out", ...): a
        # prefix would not fit the column for the longer codes ("unknown_household").
        crossing.conflict_code = server.code.value if server.code else None


@dataclass(frozen=True)
class StateWrite:
    """A household's new crossing-driven columns (:func:`state_columns`), to be stored."""

    household_id: int
    columns: dict[str, object]
    at: datetime


def _store(
    session: Session, crossing: Crossing, head: ChainHead | None, state: StateWrite | None
) -> None:
    """Seal ``crossing`` onto its gate's chain and write it, the new chain head and the
    household's new ``state``; the crossing joins the session as a stored row (``id`` set).

    ``head``: the gate's chain head, already locked by this transaction; None to lock and
    read it here. On PostgreSQL the two updates ride along with the insert as
    data-modifying CTEs: one round trip instead of three.
    """
    connection = session.connection()
    if head is None:
        row = connection.execute(_LOCK_GATE, {"gate": crossing.gate_id}).first()
        if row is None:
            raise LookupError(f"no gate {crossing.gate_id}")
        head = ChainHead(crossing.gate_id, row.chain_seq, row.chain_hash)
    seal(crossing, head.gate_seq, head.row_hash)
    values = {_PARAM_PREFIX + name: getattr(crossing, name) for name in _STORED_COLUMNS}
    gate = {"gate": crossing.gate_id, "head_seq": crossing.gate_seq, "head_hash": crossing.row_hash}
    if connection.dialect.name == "postgresql":
        statement, params = _INSERT_ADVANCING_GATE, {**values, **gate}
        if state is not None:
            statement, params = _INSERT_ADVANCING_GATE_AND_STATE, {**params, **_state(state)}
        crossing_id = connection.execute(statement, params).scalar_one()
    else:
        primary_key = connection.execute(_INSERT, values).inserted_primary_key
        if primary_key is None:
            raise RuntimeError("the database returned no id for the inserted crossing")
        crossing_id = primary_key[0]
        connection.execute(_ADVANCE_GATE, gate)
        if state is not None:
            connection.execute(_STORE_STATE, _state(state))
    _expire_loaded(session, Gate, crossing.gate_id)
    if state is not None:
        _expire_loaded(session, Household, state.household_id)
    loaded = crossing.__dict__
    for name in _STORED_COLUMNS:  # every column loaded, so reading one never queries
        if name not in loaded:
            set_committed_value(crossing, name, None)
    crossing.id = crossing_id
    make_transient_to_detached(crossing)
    session.add(crossing)


def _state(state: StateWrite) -> dict[str, object]:
    return {
        "household": state.household_id,
        "new_state_json": state.columns["state_json"],
        "new_out_count": state.columns["out_count"],
        "state_updated_at": state.at,
    }
