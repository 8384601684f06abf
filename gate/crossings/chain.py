"""The hash chain of a gate's crossings: what is hashed, and how a chain is checked.

``row_hash = SHA-256(prev_hash || canonical JSON of the row's recorded facts)``, hex.
The first row of a gate has ``prev_hash = GENESIS_HASH``. Changing, deleting, inserting
or reordering any row breaks the chain at that row; cutting rows off the end is caught
by comparing with a signed checkpoint kept off the machine (:mod:`gate.verification.checkpoints`).

The hashed facts are everything the gate decided. The office's later review of a
conflict (``conflict_reviewed_*``, ``conflict_note``) is deliberately outside the hash:
it is an annotation, audited separately as an office event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from json.encoder import encode_basestring
from typing import Any

from gate.crossings.models import Crossing
from gate.db import GENESIS_HASH
from passes import Direction

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


OPTIONAL_HASHED_FIELDS: dict[str, object] = {
    "people": 1,
    "subject": None,
    "subject_id": None,
    "plate": None,
    "shift_id": None,
}
"""Fields added after the chain was fixed, each with the value at which it is left out of the
hashed text: rows written before they existed (and rows that leave them at that value) hash
exactly as before, and a row that sets one has it under the hash like any other fact."""

HASHED_ORDER = tuple(sorted((*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS)))
"""The hashed fields in canonical (sorted) order: the order :func:`content_hash` expects."""


def content_hash(prev_hash: str, values: Sequence[Any]) -> str:
    """The hash of a row given its hashed values in :data:`HASHED_ORDER`.

    The hashed text is canonical JSON: keys sorted, no spaces, UTF-8 without ASCII
    escapes, times as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, bytes as hex, enums as their
    value (exactly ``json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` of those values, which a test checks). Each type's encoding is
    fixed up front rather than going through ``json.dumps``: verifying millions of rows
    is dominated by this function. A field of :data:`OPTIONAL_HASHED_FIELDS` at its
    left-out value (or None, not yet given its default) is not in the text at all.
    """
    parts = [
        prefix + _ENCODERS[type(value)](value)
        for prefix, value, omitted in zip(_PREFIXES, values, _OMITTED_AT, strict=True)
        if omitted is _ALWAYS or (value is not None and value != omitted)
    ]
    content = "{" + ",".join(parts) + "}"
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def row_hash(prev_hash: str, row: Crossing) -> str:
    """The hash a row must carry given the previous row's hash."""
    return content_hash(prev_hash, [getattr(row, name) for name in HASHED_ORDER])


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


def _encode_datetime(value: datetime) -> str:
    return '"' + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + '"'


def _encode_enum(value: Enum) -> str:
    return str(encode_basestring(value.value))


_PREFIXES = tuple(encode_basestring(name) + ":" for name in HASHED_ORDER)
_ALWAYS = object()
_OMITTED_AT = tuple(OPTIONAL_HASHED_FIELDS.get(name, _ALWAYS) for name in HASHED_ORDER)
_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _value: "null",
    datetime: _encode_datetime,
    bytes: lambda value: '"' + value.hex() + '"',
    Direction: _encode_enum,
}
