"""Verifying the crossing log: every gate's hash chain, end to end, in constant memory.

Rows are read in keyset batches on ``(gate_id, gate_seq)`` (the unique index), as plain
column tuples rather than ORM objects, so memory does not grow with the log and the walk
is the same on SQLite and PostgreSQL. Each gate's chain is checked with the rules of
:func:`gate.crossings.chain.verify_chain` (same problems, same first bad row) by
:func:`walk_chain` on plain tuples; its end is then compared with the gate row's
``chain_seq``/``chain_hash`` (what the last append wrote), which catches rows cut off the
tail, and rows appended behind the server's back, unless the attacker also edited the gate
row. Only a signed checkpoint kept off the machine (:mod:`gate.verification.checkpoints`) catches
that.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.crossings.chain import HASHED_ORDER, ChainBreak, ChainHead, content_hash
from gate.crossings.models import Crossing
from gate.db import GENESIS_HASH
from gate.devices.models import Gate
from gate.verification.models import ChainBase
from passes import format_utc

BATCH_SIZE = 5000
"""Rows per keyset batch: big enough to amortise a query, small enough to stay flat."""

_ID, _SEQ, _PREV, _HASH, _VALUES = 0, 1, 2, 3, 4
_COLUMNS = (
    Crossing.id,
    Crossing.gate_seq,
    Crossing.prev_hash,
    Crossing.row_hash,
    *(getattr(Crossing, name) for name in HASHED_ORDER),
)
ChainRow = Sequence[Any]
"""``(id, gate_seq, prev_hash, row_hash, *hashed values in sorted field order)``."""

# Problems found by comparing the chain's end with the gate row (the walk finds the rest:
# missing_row, duplicate_seq, prev_hash_mismatch, content_changed).
TAIL_MISSING = "tail_missing"
"""The gate row says the chain is longer than the rows found: rows were cut off the end."""
GATE_HEAD_MISMATCH = "gate_head_mismatch"
"""The row at the gate row's ``chain_seq`` does not carry the gate row's ``chain_hash``."""
ROWS_BEYOND_HEAD = "rows_beyond_gate_head"
"""Rows follow the gate row's head: appended without going through the server."""


@dataclass(frozen=True)
class GateReport:
    """One gate's result: its verified head, or the first bad row (``problem``).

    ``head_seq``/``head_hash`` are the last row that verified (0 and the genesis hash for an
    empty chain, or when the first row is bad). ``rows_checked`` rows verified.
    """

    gate_id: int
    gate_code: str
    community_id: int
    head_seq: int
    head_hash: str
    rows_checked: int
    problem: ChainBreak | None = None
    base_seq: int = 0
    """Rows up to this one were purged; the chain was verified from the next one on."""
    base_checkpoint_at: datetime | None = None
    """When the checkpoint that closed the chain before the purge was signed (None: no purge)."""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = {
            "gate_id": self.gate_id,
            "gate_code": self.gate_code,
            "community_id": self.community_id,
            "ok": self.ok,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "rows_checked": self.rows_checked,
        }
        if self.base_checkpoint_at is not None:
            data["from_checkpoint"] = {
                "base_seq": self.base_seq,
                "created_at": format_utc(self.base_checkpoint_at),
            }
        if self.problem is not None:
            data["problem"] = {
                "gate_seq": self.problem.gate_seq,
                "crossing_id": self.problem.crossing_id,
                "problem": self.problem.problem,
            }
        return data


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`verify_log`: one :class:`GateReport` per gate, by gate id."""

    gates: tuple[GateReport, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(gate.ok for gate in self.gates)

    @property
    def rows_checked(self) -> int:
        return sum(gate.rows_checked for gate in self.gates)

    @property
    def broken(self) -> tuple[GateReport, ...]:
        return tuple(gate for gate in self.gates if not gate.ok)

    @property
    def from_checkpoint_at(self) -> datetime | None:
        """The newest purge checkpoint some gate's chain was verified from (None: no purge)."""
        moments = [gate.base_checkpoint_at for gate in self.gates if gate.base_checkpoint_at]
        return max(moments, default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        since = self.from_checkpoint_at
        return {
            "ok": self.ok,
            "from_checkpoint": None if since is None else format_utc(since),
            "rows_checked": self.rows_checked,
            "gates": [gate.to_dict() for gate in self.gates],
        }


def verify_log(
    session: Session,
    community_id: int | None = None,
    *,
    gate_ids: Collection[int] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Verify every gate's chain (of one community, or of all); never raises on tampering.

    ``gate_ids`` limits the walk to those gates. Read-only. Constant memory: rows are streamed
    in keyset batches. ``on_progress`` is called with the number of rows checked so far after
    every batch. Safe while gates keep scanning: rows appended during the walk are accepted if
    the gate row, re-read at the end, covers them.
    """
    query = select(Gate.id, Gate.code, Gate.community_id).order_by(Gate.id)
    if community_id is not None:
        query = query.where(Gate.community_id == community_id)
    if gate_ids is not None:
        query = query.where(Gate.id.in_(list(gate_ids)))
    reports: list[GateReport] = []
    counter = _Counter(on_progress)
    for gate_id, gate_code, gate_community in session.execute(query).all():
        reports.append(verify_gate(session, gate_id, gate_code, gate_community, counter))
    return AuditReport(tuple(reports))


def verify_gate(
    session: Session,
    gate_id: int,
    gate_code: str,
    community_id: int,
    counter: _Counter | None = None,
) -> GateReport:
    """Verify one gate's chain and compare its end with the gate row.

    After a purge the walk starts at the gate's :class:`ChainBase` (the purged prefix is gone;
    the checkpoint signed before the purge vouched for it).
    """
    snapshot_seq, snapshot_hash = _gate_head(session, gate_id)
    base = session.get(ChainBase, gate_id)
    base_seq, base_hash = (0, GENESIS_HASH) if base is None else (base.base_seq, base.base_hash)
    base_at = None if base is None else base.checkpoint_at
    walk = ChainWalk(gate_id, watch_seq=snapshot_seq, start=(base_seq, base_hash))
    result = walk.run(stream_chain(session, gate_id, counter=counter, after_seq=base_seq))
    if isinstance(result, ChainBreak):
        before = result.gate_seq - 1
        return GateReport(
            gate_id,
            gate_code,
            community_id,
            before,
            walk.head_hash,
            before - base_seq,
            problem=result,
            base_seq=base_seq,
            base_checkpoint_at=base_at,
        )
    problem = _compare_with_gate_row(session, result, snapshot_seq, snapshot_hash, walk)
    return GateReport(
        gate_id,
        gate_code,
        community_id,
        result.gate_seq,
        result.row_hash,
        result.gate_seq - base_seq,
        problem=problem,
        base_seq=base_seq,
        base_checkpoint_at=base_at,
    )


def stream_chain(
    session: Session,
    gate_id: int,
    *,
    up_to_seq: int | None = None,
    counter: _Counter | None = None,
    batch_size: int = BATCH_SIZE,
    after_seq: int = 0,
) -> Iterator[ChainRow]:
    """One gate's rows as :data:`ChainRow` tuples in ``gate_seq`` order (after ``after_seq``, up
    to ``up_to_seq`` inclusive), fetched in keyset batches through the session's connection
    (no ORM objects)."""
    connection = session.connection()
    last_seq = after_seq
    while True:
        query = (
            select(*_COLUMNS)
            .where(Crossing.gate_id == gate_id, Crossing.gate_seq > last_seq)
            .order_by(Crossing.gate_seq)
            .limit(batch_size)
        )
        if up_to_seq is not None:
            query = query.where(Crossing.gate_seq <= up_to_seq)
        batch = connection.execute(query).all()
        if counter is not None:
            counter.add(len(batch))
        yield from batch
        if len(batch) < batch_size:
            return
        last_seq = batch[-1][_SEQ]


class ChainWalk:
    """One walk along a gate's chain, with :func:`gate.crossings.chain.verify_chain`'s rules.

    Also remembers the hash of the last verified row and of the row at ``watch_seq``.
    ``start`` is ``(seq, hash)`` of the row before the first one walked (after a purge).
    """

    def __init__(
        self,
        gate_id: int,
        *,
        watch_seq: int | None = None,
        start: tuple[int, str] = (0, GENESIS_HASH),
    ) -> None:
        self.gate_id = gate_id
        self.watch_seq = watch_seq
        self.start = start
        self.watched_hash: str | None = start[1] if watch_seq == start[0] else None
        self.head_hash = start[1]

    def run(self, rows: Iterable[ChainRow]) -> ChainHead | ChainBreak:
        """The chain's head, or its first bad row."""
        gate_id, expected_seq, prev_hash = self.gate_id, self.start[0] + 1, self.start[1]
        for row in rows:
            seq = row[_SEQ]
            if seq != expected_seq:
                problem = "missing_row" if seq > expected_seq else "duplicate_seq"
                return ChainBreak(gate_id, expected_seq, row[_ID], problem)
            if row[_PREV] != prev_hash:
                return ChainBreak(gate_id, seq, row[_ID], "prev_hash_mismatch")
            if content_hash(prev_hash, row[_VALUES:]) != row[_HASH]:
                return ChainBreak(gate_id, seq, row[_ID], "content_changed")
            if seq == self.watch_seq:
                self.watched_hash = row[_HASH]
            expected_seq, prev_hash = expected_seq + 1, row[_HASH]
            self.head_hash = prev_hash
        return ChainHead(gate_id, expected_seq - 1, prev_hash)


def walk_chain(gate_id: int, rows: Iterable[ChainRow]) -> ChainHead | ChainBreak:
    """Walk one gate's :data:`ChainRow` tuples in ``gate_seq`` order: its head or first break."""
    return ChainWalk(gate_id).run(rows)


class _Counter:
    def __init__(self, on_progress: Callable[[int], None] | None) -> None:
        self.rows = 0
        self.on_progress = on_progress

    def add(self, rows: int) -> None:
        self.rows += rows
        if self.on_progress is not None and rows:
            self.on_progress(self.rows)


def _gate_head(session: Session, gate_id: int) -> tuple[int, str]:
    row = session.execute(select(Gate.chain_seq, Gate.chain_hash).where(Gate.id == gate_id)).one()
    return int(row.chain_seq), str(row.chain_hash)


def _compare_with_gate_row(
    session: Session,
    head: ChainHead,
    snapshot_seq: int,
    snapshot_hash: str,
    walk: ChainWalk,
) -> ChainBreak | None:
    gate_id = head.gate_id
    if head.gate_seq < snapshot_seq:
        # Rows are never deleted: the gate row read before the walk knows more rows than exist.
        return ChainBreak(gate_id, head.gate_seq + 1, None, TAIL_MISSING)
    if walk.watched_hash != snapshot_hash:
        crossing_id = _crossing_id(session, gate_id, snapshot_seq)
        return ChainBreak(gate_id, snapshot_seq, crossing_id, GATE_HEAD_MISMATCH)
    if head.gate_seq > snapshot_seq:
        # Either appended while we walked (the gate row has moved on since) or forged.
        current_seq, current_hash = _gate_head(session, gate_id)
        if current_seq < head.gate_seq:
            seq = current_seq + 1
            return ChainBreak(gate_id, seq, _crossing_id(session, gate_id, seq), ROWS_BEYOND_HEAD)
        if current_seq == head.gate_seq and current_hash != head.row_hash:
            crossing_id = _crossing_id(session, gate_id, current_seq)
            return ChainBreak(gate_id, current_seq, crossing_id, GATE_HEAD_MISMATCH)
    return None


def _crossing_id(session: Session, gate_id: int, gate_seq: int) -> int | None:
    return session.scalar(
        select(Crossing.id).where(Crossing.gate_id == gate_id, Crossing.gate_seq == gate_seq)
    )
