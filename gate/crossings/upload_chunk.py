"""An upload chunk's common case, stored set-based: offline household-pass crossings.

A drained journal is mostly one device's offline crossings made with household passes. Item
by item, each costs two database round trips (the scan's locking read, the insert); here a
chunk of them costs a handful: one statement locks the chunk's households (in id order, as
every writer does) and reads their states, then the gate's chain head is locked, then the
passes' statuses, the client ids already stored and the gate's duty shifts are read
(:func:`gate.crossings.chunk_persistence.read_chunk`); every item is decided in memory, in order,
with the same code as :func:`gate.crossings.operations.record_scan` (``passes.decide``,
``passes.advance``, the same column values), each household's state carried forward from
item to item; the timeline is replayed per item as :func:`gate.crossings.timeline.settle`
does, its writes held back (:class:`gate.crossings.timeline.Deferred`); the chain hashes are
computed in order; then one multi-row INSERT (a COPY on PostgreSQL), one update of the
gate's head and one update per changed household
(:func:`gate.crossings.chunk_persistence.insert_chunk`).

Only the common case: every item an uploaded crossing with a household pass (no screen code)
whose signature and validity hold at its scan time, no override, not implausibly dated nor
behind its device's clock, of a registered household with an issued pass, under a client id
that is new and unique in the chunk, at a gate of the community. Anything else makes
:func:`store_offline_chunk` answer None before it writes anything, and the caller stores
the chunk item by item (``gate.crossings.uploads``). The results are those of the item path,
row for row (``tests/gate/crossings/test_upload_chunk_set.py`` compares them column by column).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gate.community.context import CommunityContext
from gate.crossings.chain import HASHED_ORDER, ChainHead, content_hash
from gate.crossings.chunk_persistence import (
    ChunkRead,
    insert_chunk,
    new_crossing_ids,
    read_chunk,
    shift_of,
)
from gate.crossings.operations import (
    OfflineClaim,
    Origin,
    ScanRequest,
    ScanResult,
    crossing_values,
    offline_values,
    request_hash_of,
    revoked_of,
    stored_result,
)
from gate.crossings.persistence import STORED_COLUMNS
from gate.crossings.timeline import cached_timelines, note_stored, settle
from gate.households.decision_state import household_state, state_columns
from gate.issuing.verified_passes import verify_known_pass
from gate.zones.queries import household_locks
from passes import HouseholdState, VerifiedPass, advance, decide


@dataclass(frozen=True)
class OfflineItem:
    """An item of the common case, as far as can be told before reading the database: an
    offline crossing with a household pass naming ``household_id``, without an override,
    plausibly dated and not behind its device's clock. ``household_id`` None: the one its
    pass names, read when the pass is verified (not parsed once more before that)."""

    request: ScanRequest
    claim: OfflineClaim
    household_id: int | None


@dataclass
class _Household:
    """A locked household as the chunk's decisions read it, its state carried forward."""

    id: int
    generation: int
    status: Any
    quarantine_until: datetime | None
    state_json: str
    zoned: bool
    columns: Mapping[str, object] | None = None
    """The state's columns as last written by the chunk (None: unchanged)."""
    written_at: datetime | None = None
    """The last write was a crossing's (stamped ``now``), not the replay's (None)."""
    parsed: tuple[str, HouseholdState] | None = None
    """``household_state`` of this row when its ``state_json`` was the one kept here."""

    def state(self) -> HouseholdState:
        """``household_state(self)``, read again only when ``state_json`` changed otherwise
        than by :meth:`advanced` (the timeline's replay rewrites it)."""
        if self.parsed is None or self.parsed[0] != self.state_json:
            self.parsed = (self.state_json, household_state(self))
        return self.parsed[1]

    def advanced(self, after: HouseholdState, now: datetime) -> None:
        """Store ``after`` as a crossing at ``now`` stores it; what ``household_state`` reads
        back from its columns is ``after`` itself (the row's own fields, the times in full,
        the zones read apart), so it is kept instead of parsed again."""
        self.columns = state_columns(after)
        self.state_json = str(self.columns["state_json"])
        self.written_at = now
        self.parsed = (self.state_json, replace(after, zones=()) if after.zones else after)


class _Pending:
    """The chunk's writes held back (:class:`gate.crossings.timeline.Deferred`)."""

    def __init__(self, households: Mapping[int, _Household]) -> None:
        self.rows: dict[int, MutableMapping[str, Any]] = {}
        self.households = households

    def store_state(self, household_id: int, columns: Mapping[str, object]) -> None:
        household = self.households[household_id]
        household.state_json = str(columns["state_json"])
        household.columns, household.written_at = columns, None


def store_offline_chunk(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    items: Sequence[OfflineItem],
    now: datetime,
) -> list[ScanResult] | None:
    """Store ``items`` in order as :func:`gate.crossings.operations.record_scan` would one
    by one (offline; in the caller's transaction), or answer None, having written nothing,
    when one of them is outside the common case (see the module doc)."""
    if not items:
        return []
    checks = _verified(context, items)
    if checks is None:
        return None
    household_ids = [check.fields.household_id for check in checks]
    client_ids = [item.request.client_id for item in items]
    if len(set(client_ids)) != len(client_ids):
        return None  # the second is a replay of the first: the item path answers it
    times = [item.request.scanned_at for item in items]
    read = read_chunk(
        session,
        community_id=context.community_id,
        gate_id=origin.gate_id,
        household_ids=household_ids,
        pass_ids=[check.fields.pass_id for check in checks],
        client_ids=client_ids,
        first=min(times),
        last=max(times),
    )
    households = {row.id: _Household(*row) for row in read.households}
    if (
        read.gate is None
        or read.known_client_ids
        or any(household_id not in households for household_id in household_ids)
        or any(check.fields.pass_id not in read.pass_statuses for check in checks)
    ):
        return None
    pending = _Pending(households)
    ids = new_crossing_ids(session, len(items))
    head = read.gate
    rows: list[dict[str, object]] = []
    with cached_timelines(session, households, deferred=pending):
        for item, check, household_id, crossing_id in zip(
            items, checks, household_ids, ids, strict=True
        ):
            household = households[household_id]
            stored = _decided(session, context, origin, item, check, household, read, now)
            seq = head.gate_seq + 1
            stored["id"] = crossing_id
            stored["gate_seq"] = seq
            stored["prev_hash"] = head.row_hash
            pending.rows[crossing_id] = stored
            # Offline: the household's timeline is replayed in scan order (the same call as
            # record_scan's; its writes held back in ``pending``).
            settle(
                session,
                context.rules,
                stored,
                later=True,
                household=household,
                state_json=household.state_json,
            )
            stored["row_hash"] = content_hash(
                head.row_hash, [stored[name] for name in HASHED_ORDER]
            )
            head = ChainHead(origin.gate_id, seq, str(stored["row_hash"]))
            counted = bool(stored["allowed"]) and not stored["rejected"]
            note_stored(session, household.id, crossing_id, counted=counted)
            rows.append(stored)
    states = {
        household.id: (household.columns, household.written_at)
        for household in households.values()
        if household.columns is not None
    }
    insert_chunk(session, rows, head, states)
    return [stored_result(row, replay=False, label=None) for row in rows]


def _verified(context: CommunityContext, items: Sequence[OfflineItem]) -> list[VerifiedPass] | None:
    """Each item's pass verified at its scan time, as ``check_presented`` verifies a
    household pass (each signature once per process: :mod:`gate.issuing.verified_passes`);
    None when one does not verify then."""
    checks: list[VerifiedPass] = []
    for item in items:
        check = verify_known_pass(context, item.request.pass_text, item.request.scanned_at)
        if not isinstance(check, VerifiedPass):
            return None
        if item.household_id is not None and check.fields.household_id != item.household_id:
            return None
        checks.append(check)
    return checks


def _decided(
    session: Session,
    context: CommunityContext,
    origin: Origin,
    item: OfflineItem,
    check: VerifiedPass,
    household: _Household,
    read: ChunkRead,
    now: datetime,
) -> dict[str, object]:
    """One item decided as ``record_scan`` decides an offline crossing of a locked household
    (no override, not behind the clock), its household's state advanced in place; the row to
    insert, chain columns and id aside."""
    request, claim = item.request, item.claim
    at = request.scanned_at
    state = household.state()
    if household.zoned:  # a lock may hold at ``at``: read as record_scan reads them
        state = replace(state, zones=household_locks(session, household.id, at))
    verdict = decide(
        check,
        keys=context.keys,
        community_id=context.community_id,
        household=state,
        revoked_pass_ids=revoked_of(check, read.pass_statuses[check.fields.pass_id]),
        rules=context.rules,
        direction=request.direction,
        temperature=request.temperature,
        now=at,
        override=None,
        people=request.people,
    )
    values = crossing_values(context, origin, request, verdict, now)
    values["request_hash"] = request_hash_of(origin, request, claim)
    values["shift_id"] = shift_of(read.shifts, at)
    values["household_id"] = household.id
    values.update(offline_values(claim, verdict, request.clock_offset_ms))
    allowed = bool(values["allowed"])
    after = advance(state, request.direction, allowed, at, context.rules, request.people)
    if after != state:
        household.advanced(after, now)
    row: dict[str, object] = dict.fromkeys(STORED_COLUMNS)
    row.update(values)
    if row["people"] is None:
        row["people"] = 1
    return row
