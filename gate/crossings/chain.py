"""The hash chain of a gate's crossings: what is hashed, and how a chain is checked.

``row_hash = SHA-256(prev_hash || canonical JSON of the row's recorded facts)``, hex.
The first row of a gate has ``prev_hash = GENESIS_HASH``. Changing, deleting, inserting
or reordering any row breaks the chain at that row; cutting rows off the end is caught
by comparing with a signed checkpoint kept off the machine (:mod:`gate.audit.checkpoints`).

The hashed facts are everything the gate decided. The office's later review of a
conflict (``conflict_reviewed_*``, ``conflict_note``) is deliberately outside the hash:
it is an annotation, audited separately as an office event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gate.crossings.models import GENESIS_HASH, Crossing

HASHED_FIELDS = (
    "client_id",
    "community_id",
    "gate_id",
    "gate_seq",
    "device_id",
    "user_id",
    "household_id",
    "pass_id",
    "direction",
    "scanned_at",
    "recorded_at",
    "temperature_tenths",
    "allowed",
    "next_exit_at",
    "code",
    "codes",
    "flags",
    "rule_version",
    "operator",
    "override_reason",
    "override_supervisor",
    "offline",
    "conflict",
    "conflict_code",
    "rejected",
    "rejection_reason",
    "latency_ms",
)


def canonical_content(row: Crossing) -> bytes:
    """The row's hashed facts as canonical JSON bytes (sorted keys, UTC times, hex bytes)."""
    return json.dumps(
        {name: _canonical(getattr(row, name)) for name in HASHED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")


def row_hash(prev_hash: str, row: Crossing) -> str:
    """The hash a row must carry given the previous row's hash."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_content(row)).hexdigest()


def seal(row: Crossing, prev_seq: int, prev_hash: str) -> None:
    """Give ``row`` its place in the chain: next sequence number, previous hash, own hash."""
    row.gate_seq = prev_seq + 1
    row.prev_hash = prev_hash
    row.row_hash = row_hash(prev_hash, row)


@dataclass(frozen=True)
class ChainBreak:
    """The first row of a gate's chain that does not verify, and why."""

    gate_id: int
    gate_seq: int
    crossing_id: int | None
    problem: str


@dataclass(frozen=True)
class ChainHead:
    """The last verified row of a gate's chain."""

    gate_id: int
    gate_seq: int
    row_hash: str


def verify_chain(gate_id: int, rows: Iterable[Crossing]) -> ChainHead | ChainBreak:
    """Walk one gate's rows in ``gate_seq`` order; return its head or the first break.

    Streams: memory does not grow with the number of rows.
    """
    expected_seq, prev_hash = 1, GENESIS_HASH
    for row in rows:
        if row.gate_seq != expected_seq:
            problem = "missing_row" if row.gate_seq > expected_seq else "duplicate_seq"
            return ChainBreak(gate_id, expected_seq, row.id, problem)
        if row.prev_hash != prev_hash:
            return ChainBreak(gate_id, row.gate_seq, row.id, "prev_hash_mismatch")
        if row.row_hash != row_hash(prev_hash, row):
            return ChainBreak(gate_id, row.gate_seq, row.id, "content_changed")
        expected_seq, prev_hash = expected_seq + 1, row.row_hash
    return ChainHead(gate_id, expected_seq - 1, prev_hash)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "value"):  # enums
        return value.value
    return value
