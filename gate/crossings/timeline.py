"""One household timeline, re-evaluated in scan order.

Gates decide with what they know: an offline scanner knows its own crossings, an online
scan knows what has been uploaded so far. When a crossing is stored that happened before
crossings already stored for its household (an offline upload, or anything late), the
household's allowed crossings are replayed in ``(scanned_at, id)`` order through the core's
own state transition (:func:`passes.advance`) as if every gate had known everything:

- every allowed exit the rules would have refused at that point of the timeline is flagged
  with the rule's code (``already_out`` or ``quota``, in the core's order of evaluation) and
  the crossing it conflicts with (``conflict_with_id``): the exit of the person still out,
  or the exit that used up the quota window;
- the household's derived state (people out, exits in the quota window) is the replay's
  final state, so no late or future-dated crossing leaves it wrong.

What "would have refused" means:

- Only the rules that depend on other crossings are replayed (``already_out``, ``quota``);
  health, pass validity, quarantine and exit hours belong to the crossing alone and were
  judged when it was stored (:func:`gate.crossings.operations.record_scan`).
- Only allowed crossings change state and only they can be flagged: a refused crossing did
  not happen. A flagged crossing still happened, so it counts (the person is out; the exit
  used the quota).
- An override (a supervisor let a refused crossing through on purpose) is never flagged;
  it counts like any exit.
- Exemption from the quota is read from the household's current status.

Nothing is rolled back or deleted. The hash chain covers ``conflict`` and ``conflict_code``
as decided when a row was stored, so: the crossing being stored (still its gate's chain
head, in this transaction) is re-sealed with the timeline's verdict, and that flag is kept
for good; a crossing stored earlier that the timeline finds rule-breaking is annotated
outside the hash (``conflict_with_id``) and an audit event ``crossing.timeline_conflict``
records the code, like the office's review of a conflict. Such an annotation is the
timeline's opinion with what it knows: a later replay that knows more (an earlier entry
uploaded late) updates it, with another event, unless the office has reviewed it.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ARRAY, BigInteger, Table, and_, bindparam, false, func, select, true, update
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.audit.operations import record_event
from gate.crossings.chain import HASHED_ORDER, content_hash
from gate.crossings.models import Crossing
from gate.devices.models import Gate
from gate.households.decision_state import HouseholdColumns, household_state, state_columns
from gate.households.models import Household
from passes import Code, Direction, HouseholdState, HouseholdStatus, RuleSet, advance
from passes.schedule import counted_exits
from passes.state import prune_exits

ORDER_CODES = (Code.ALREADY_OUT, Code.QUOTA)
"""The refusal codes that depend on other crossings, in the core's order of evaluation."""
ACTOR = "timeline"
"""The audit actor of a flag the timeline sets on a crossing stored earlier."""
TIMELINE_ACTION = "crossing.timeline_conflict"
"""The audit action of such a flag: ``details`` hold ``conflict_code`` and
``conflict_with_id`` (both None when a later replay found the crossing within the rules)."""

_CROSSINGS_TABLE = cast(Table, Crossing.__table__)
_C = _CROSSINGS_TABLE.c
_HOUSEHOLDS_TABLE = cast(Table, Household.__table__)
_H = _HOUSEHOLDS_TABLE.c
_GATES_TABLE = cast(Table, Gate.__table__)
_G = _GATES_TABLE.c

_COUNTED = and_(
    _C.household_id == bindparam("household"), _C.allowed == true(), _C.rejected == false()
)
_TIMELINE = (
    select(
        _C.id,
        _C.scanned_at,
        _C.direction,
        _C.people,
        _C.flags,
        _C.override_supervisor,
        _C.conflict,
        _C.conflict_with_id,
        _C.conflict_reviewed_at,
    )
    .where(_COUNTED)
    .order_by(_C.scanned_at, _C.id)
)
_TIMELINE_COLUMNS = (
    _C.household_id,
    _C.id,
    _C.scanned_at,
    _C.direction,
    _C.flags,
    _C.override_supervisor,
    _C.conflict,
    _C.conflict_with_id,
    _C.conflict_reviewed_at,
    _C.people,
)
_TIMELINES = (
    select(*_TIMELINE_COLUMNS)
    .where(
        _C.household_id.in_(bindparam("households", expanding=True)),
        _C.allowed == true(),
        _C.rejected == false(),
    )
    .order_by(_C.household_id, _C.scanned_at, _C.id)
)
_ASKED = (
    func.unnest(bindparam("households", type_=ARRAY(BigInteger())))
    .table_valued("household_id")
    .render_derived(name="asked")
)
_TIMELINES_PG = (
    # One index range per household whatever the statistics say (an IN list's plan may scan
    # the whole table as it grows).
    select(*_TIMELINE_COLUMNS)
    .select_from(_ASKED.join(_CROSSINGS_TABLE, _C.household_id == _ASKED.c.household_id))
    .where(_C.allowed == true(), _C.rejected == false())
    .order_by(_C.household_id, _C.scanned_at, _C.id)
)
_HOUSEHOLD = select(
    _H.id, _H.community_id, _H.generation, _H.status, _H.quarantine_until, _H.state_json
).where(_H.id == bindparam("household"))
_STORE_STATE = (
    update(_HOUSEHOLDS_TABLE)
    .where(_H.id == bindparam("household"))
    .values(state_json=bindparam("state_json"), out_count=bindparam("out_count"))
)
_ANNOTATE = (
    update(_CROSSINGS_TABLE)
    .where(_C.id == bindparam("crossing"), _C.conflict == false())
    .values(conflict_with_id=bindparam("with_id"))
)
_RESEAL = (
    update(_CROSSINGS_TABLE)
    .where(_C.id == bindparam("crossing"), _C.row_hash == bindparam("old_hash"))
    .values(
        conflict=bindparam("new_conflict"),
        conflict_code=bindparam("new_conflict_code"),
        conflict_with_id=bindparam("with_id"),
        row_hash=bindparam("new_hash"),
    )
)
_RESEAL_HEAD = (
    update(_GATES_TABLE)
    .where(
        _G.id == bindparam("gate"),
        _G.chain_seq == bindparam("seq"),
        _G.chain_hash == bindparam("old_hash"),
    )
    .values(chain_hash=bindparam("new_hash"))
)


@dataclass(frozen=True)
class Entry:
    """One allowed crossing of a household's timeline, as the replay reads it."""

    id: int
    scanned_at: datetime
    direction: Direction
    override: bool = False
    sealed: bool = False
    """Flagged when it was stored (``conflict``, inside the hash chain): kept as it is."""
    annotated: bool = False
    """Flagged later by the timeline (``conflict_with_id`` only, outside the hash)."""
    reviewed: bool = False
    """The office has reviewed its conflict: kept as it is."""
    people: int = 1
    """Persons on the crossing (they count when the rules count people)."""


@dataclass(frozen=True)
class Breach:
    """An allowed crossing the rules would have refused had every gate known everything."""

    crossing_id: int
    code: Code
    with_id: int | None
    """The earlier crossing it conflicts with (None only for a quota of zero exits)."""


@dataclass(frozen=True)
class Replay:
    """A timeline's outcome: the household's state after it, and every breach in it."""

    state: HouseholdState
    breaches: tuple[Breach, ...]


def replay(base: HouseholdState, entries: Iterable[Entry], rules: RuleSet) -> Replay:
    """Replay allowed crossings (in ``(scanned_at, id)`` order) from ``base`` with its people
    out and exits cleared. Pure: the same transition the server and scanners use."""
    state = replace(base, out_since=(), exits=())
    out: list[tuple[datetime, int]] = []  # (exit time, crossing id) of each person out
    exits: list[tuple[datetime, int]] = []  # the same for each exit that may still count
    breaches: list[Breach] = []
    for entry in entries:
        at, units = entry.scanned_at, rules.units(entry.people)
        if entry.direction is Direction.OUT:
            breach = (
                None if entry.override else _breach(entry.id, state, out, exits, rules, at, units)
            )
            if breach is not None:
                breaches.append(breach)
            state = advance(state, Direction.OUT, True, at, rules, entry.people)
            out = sorted((*out, *[(at, entry.id)] * units))
            kept = set(prune_exits(tuple(time for time, _ in exits), rules, at))
            exits = sorted(
                (*(item for item in exits if item[0] in kept), *[(at, entry.id)] * units)
            )
        else:
            state = advance(state, Direction.IN, True, at, rules, entry.people)
            out = out[units:]
    return Replay(state, tuple(breaches))


def _breach(
    crossing_id: int,
    state: HouseholdState,
    out: list[tuple[datetime, int]],
    exits: list[tuple[datetime, int]],
    rules: RuleSet,
    at: datetime,
    units: int = 1,
) -> Breach | None:
    """The first order-dependent rule an exit of ``units`` at ``at`` breaks (the core's
    ``already_out`` and ``quota`` checks of :func:`passes.decide`), with the crossing it
    conflicts with (None when the group alone is more than the rule allows)."""
    if len(state.out_since) + units > rules.max_out_at_once:
        index = rules.max_out_at_once - units
        return Breach(
            crossing_id, Code.ALREADY_OUT, out[index][1] if 0 <= index < len(out) else None
        )
    quota = rules.quota
    if quota is None or state.status is HouseholdStatus.EXEMPT:
        return None
    counted = counted_exits(state, rules, at)
    if len(counted) + units <= quota.exits:
        return None
    window = set(counted)
    in_window = [crossing for time, crossing in exits if time in window]
    index = quota.exits - units
    with_id = in_window[index] if 0 <= index < len(in_window) else None
    return Breach(crossing_id, Code.QUOTA, with_id)


def settle(
    session: Session,
    rules: RuleSet,
    stored: MutableMapping[str, Any],
    *,
    later: bool,
    household: HouseholdColumns | None = None,
    state_json: str | None = None,
) -> None:
    """Call right after a crossing is stored (``stored``: its values as inserted, ``id``
    included; updated in place with the timeline's verdict).

    Replays its household's timeline when it is an allowed offline crossing, or an allowed
    crossing dated before one already stored for its household; else does nothing.
    ``later``: whether such a later crossing exists (the scan's locking read tells, see
    ``gate.crossings.persistence.lock_household_and_gate``: no second query per scan).
    ``household``: the household's row as the scan locked it, and ``state_json`` its state
    as stored now (after the scan's own write): given both, the household is not read again.
    """
    household_id = stored.get("household_id")
    if household_id is None or stored["rejected"] or not stored["allowed"]:
        return
    cache = _cache(session)
    if cache is not None:
        cache.add(household_id, stored)
    if not stored["offline"] and not later:
        return  # in scan order already: the server decided it with everything before it
    known = None if household is None or state_json is None else (household, state_json)
    reevaluate(session, rules, household_id, stored=stored, household=known)


def reevaluate(
    session: Session,
    rules: RuleSet,
    household_id: int,
    *,
    stored: MutableMapping[str, Any] | None = None,
    household: tuple[HouseholdColumns, str] | None = None,
) -> Replay:
    """Replay household ``household_id``'s timeline: store its derived state and flag every
    breach not yet flagged (writes in the caller's transaction, which holds the household's
    lock). ``stored``: the crossing just inserted in this transaction, re-sealed in place.
    ``household``: its row (status, generation, quarantine) and its stored ``state_json``,
    when the caller has them. The timeline comes from the transaction's
    :class:`TimelineCache` when one holds the household (an upload chunk), else is read."""
    connection = session.connection()
    if household is None:
        row: Any = connection.execute(_HOUSEHOLD, {"household": household_id}).one()
        base, stored_state, community_id = household_state(row), row.state_json, row.community_id
    else:
        base, stored_state = household_state(household[0]), household[1]
        community_id = None if stored is None else stored["community_id"]
        if community_id is None:  # pragma: no cover - callers with a row also store one
            raise ValueError("a household row without a stored crossing")
    cache = _cache(session)
    timeline = None if cache is None else cache.timelines.get(household_id)
    rows: Sequence[Any] = (
        timeline
        if timeline is not None
        else connection.execute(_TIMELINE, {"household": household_id}).all()
    )
    entries = [
        Entry(
            id=item.id,
            scanned_at=item.scanned_at,
            direction=Direction(item.direction),
            override=item.override_supervisor is not None
            or Code.OVERRIDE.value in (item.flags or "").split(),
            sealed=bool(item.conflict),
            annotated=not item.conflict and item.conflict_with_id is not None,
            reviewed=item.conflict_reviewed_at is not None,
            people=item.people or 1,
        )
        for item in rows
    ]
    outcome = replay(base, entries, rules)
    columns = state_columns(outcome.state)
    deferred = None if cache is None else cache.deferred
    if columns["state_json"] != stored_state:
        if deferred is not None:
            deferred.store_state(household_id, columns)
        else:
            connection.execute(_STORE_STATE, {"household": household_id, **columns})
    new_id = None if stored is None else stored["id"]
    breaches = {breach.crossing_id: breach for breach in outcome.breaches}
    annotated = _annotations(session, [e.id for e in entries if e.annotated and e.id != new_id])
    for entry in entries:
        if entry.id == new_id or entry.sealed or entry.reviewed:
            continue  # the crossing being stored is re-sealed below; the others keep theirs
        breach = breaches.get(entry.id)
        found = None if breach is None else (breach.code.value, breach.with_id)
        if found == annotated.get(entry.id):
            continue
        code, with_id = (None, None) if breach is None else (breach.code.value, breach.with_id)
        _annotate(session, deferred, entry.id, with_id)
        if timeline is not None:
            _row_of(timeline, entry.id).conflict_with_id = with_id
        record_event(
            session,
            actor=ACTOR,
            action=TIMELINE_ACTION,
            community_id=community_id,
            subject_type="crossing",
            subject_id=entry.id,
            details={"conflict_code": code, "conflict_with_id": with_id},
        )
    if stored is not None:
        mine = next((b for b in outcome.breaches if b.crossing_id == new_id), None)
        _reseal(session, stored, mine, written=deferred is None or new_id not in deferred.rows)
        if timeline is not None:
            kept = _row_of(timeline, stored["id"])
            kept.conflict, kept.conflict_with_id = stored["conflict"], stored["conflict_with_id"]
    return outcome


def _annotate(
    session: Session, deferred: Deferred | None, crossing_id: int, with_id: int | None
) -> None:
    """Set a crossing's ``conflict_with_id`` unless it was flagged when stored; in memory
    when it is a held-back row (``deferred``) not yet written."""
    pending = None if deferred is None else deferred.rows.get(crossing_id)
    if pending is None:
        session.connection().execute(_ANNOTATE, {"crossing": crossing_id, "with_id": with_id})
    elif not pending["conflict"]:  # _ANNOTATE's own condition
        pending["conflict_with_id"] = with_id


TIMELINE_CACHE = "gate.crossings.timeline.cache"
"""The key of a transaction's :class:`TimelineCache` in ``Session.info``."""


@dataclass
class TimelineRow:
    """One counted crossing of a cached timeline: the columns the replay reads, kept in
    step with what this transaction writes."""

    id: int
    scanned_at: datetime
    direction: str
    flags: str | None
    override_supervisor: str | None
    conflict: bool
    conflict_with_id: int | None
    conflict_reviewed_at: datetime | None
    people: int | None = 1


class Deferred(Protocol):
    """A batch's writes held back until it writes them all at once
    (``gate.crossings.upload_chunk``): its crossings not yet inserted, by id, and where a
    household's replayed state goes. The replay reads and changes them in memory exactly as
    it would have changed the rows (annotation, re-seal, state)."""

    @property
    def rows(self) -> Mapping[int, MutableMapping[str, Any]]: ...

    def store_state(self, household_id: int, columns: Mapping[str, object]) -> None: ...


class TimelineCache:
    """The timelines of households locked for a batch of uploads, read in one query.

    Valid only inside the transaction that locks those households and only while every
    counted crossing of theirs stored in it goes through :func:`settle` (which adds it) or
    is reported to :meth:`stored` (which forgets a household it did not see). Discard it
    with the transaction (:func:`cached_timelines` does).
    """

    def __init__(
        self, timelines: dict[int, list[TimelineRow]], deferred: Deferred | None = None
    ) -> None:
        self.timelines = timelines
        self.deferred = deferred

    @classmethod
    def load(cls, session: Session, household_ids: Iterable[int]) -> TimelineCache:
        ids = sorted(set(household_ids))
        timelines: dict[int, list[TimelineRow]] = {household: [] for household in ids}
        if ids:
            connection = session.connection()
            postgresql = connection.dialect.name == "postgresql"
            statement = _TIMELINES_PG if postgresql else _TIMELINES
            rows = connection.execute(statement, {"households": ids})
            for household_id, *columns in rows:
                timelines[household_id].append(TimelineRow(*columns))
        return cls(timelines)

    def add(self, household_id: int, stored: Mapping[str, Any]) -> None:
        """A counted crossing just stored (its values as inserted)."""
        timeline = self.timelines.get(household_id)
        if timeline is None or any(row.id == stored["id"] for row in timeline):
            return
        row = TimelineRow(
            id=stored["id"],
            scanned_at=stored["scanned_at"],
            direction=Direction(stored["direction"]).value,
            flags=stored["flags"],
            override_supervisor=stored["override_supervisor"],
            conflict=bool(stored["conflict"]),
            conflict_with_id=stored.get("conflict_with_id"),
            conflict_reviewed_at=None,
            people=stored.get("people"),
        )
        keys = [(item.scanned_at, item.id) for item in timeline]
        timeline.insert(bisect.bisect(keys, (row.scanned_at, row.id)), row)

    def stored(self, household_id: int | None, crossing_id: int, *, counted: bool) -> None:
        """Any crossing stored in the transaction: a counted one that :func:`settle` did
        not add makes the cache forget its household (read again when replayed)."""
        timeline = None if household_id is None else self.timelines.get(household_id)
        if timeline is None or not counted:
            return
        if not any(row.id == crossing_id for row in timeline):
            del self.timelines[household_id]  # type: ignore[arg-type]


@contextmanager
def cached_timelines(
    session: Session, household_ids: Iterable[int], deferred: Deferred | None = None
) -> Iterator[TimelineCache]:
    """A :class:`TimelineCache` of ``household_ids`` for the block (one query), used by
    :func:`settle` and :func:`reevaluate` in ``session`` until the block ends; with
    ``deferred``, their writes of its rows and of household states go there."""
    cache = TimelineCache.load(session, household_ids)
    cache.deferred = deferred
    session.info[TIMELINE_CACHE] = cache
    try:
        yield cache
    finally:
        session.info.pop(TIMELINE_CACHE, None)


def note_stored(
    session: Session, household_id: int | None, crossing_id: int, *, counted: bool
) -> None:
    """Tell the transaction's :class:`TimelineCache` (if any) of a crossing just stored;
    ``counted``: allowed and not rejected."""
    cache = _cache(session)
    if cache is not None:
        cache.stored(household_id, crossing_id, counted=counted)


def _cache(session: Session) -> TimelineCache | None:
    cache = session.info.get(TIMELINE_CACHE)
    return cache if isinstance(cache, TimelineCache) else None


def _row_of(timeline: list[TimelineRow], crossing_id: int) -> TimelineRow:
    return next(row for row in timeline if row.id == crossing_id)


def _annotations(session: Session, crossing_ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """The timeline's latest (code, conflicts-with) for crossings it annotated before."""
    if not crossing_ids:
        return {}
    events = session.execute(
        select(AuditEvent.subject_id, AuditEvent.details_json)
        .where(
            AuditEvent.subject_type == "crossing",
            AuditEvent.subject_id.in_([str(item) for item in crossing_ids]),
            AuditEvent.action == TIMELINE_ACTION,
        )
        .order_by(AuditEvent.id)
    ).all()
    latest: dict[int, tuple[str, int | None]] = {}
    for subject_id, details_json in events:
        details, crossing_id = json.loads(details_json), int(subject_id or 0)
        if details.get("conflict_code") is not None:
            latest[crossing_id] = (details["conflict_code"], details.get("conflict_with_id"))
        else:
            latest.pop(crossing_id, None)
    return latest


def _reseal(
    session: Session,
    stored: MutableMapping[str, Any],
    breach: Breach | None,
    *,
    written: bool = True,
) -> None:
    """Give the crossing just stored the timeline's verdict on the order-dependent rules.

    Its own other conflicts (fever, quarantine, ...) stand. Its hashed fields change only
    while it is still its gate's chain head in this transaction: the row and the head are
    re-hashed together, as if it had been inserted so. ``written`` False: the row is not in
    the database yet (:class:`Deferred`): only ``stored`` changes, and its writer hashes it."""
    conflict, code, with_id = stored["conflict"], stored["conflict_code"], None
    order_codes = {item.value for item in ORDER_CODES}
    if breach is not None and (not conflict or code in order_codes):
        conflict, code, with_id = True, breach.code.value, breach.with_id
    elif breach is None and conflict and code in order_codes:
        conflict, code = False, None  # refused by a state that held later crossings
    if (conflict, code, with_id) == (
        stored["conflict"],
        stored["conflict_code"],
        stored.get("conflict_with_id"),
    ):
        return
    if not written:
        stored.update(conflict=conflict, conflict_code=code, conflict_with_id=with_id)
        return
    values = {**stored, "conflict": conflict, "conflict_code": code}
    new_hash = content_hash(values["prev_hash"], [values[name] for name in HASHED_ORDER])
    connection = session.connection()
    head = {
        "gate": stored["gate_id"],
        "seq": stored["gate_seq"],
        "old_hash": stored["row_hash"],
        "new_hash": new_hash,
    }
    if connection.execute(_RESEAL_HEAD, head).rowcount != 1:
        raise RuntimeError(f"crossing {stored['id']} is no longer its gate's chain head")
    connection.execute(
        _RESEAL,
        {
            "crossing": stored["id"],
            "old_hash": stored["row_hash"],
            "new_conflict": conflict,
            "new_conflict_code": code,
            "with_id": with_id,
            "new_hash": new_hash,
        },
    )
    stored.update(
        conflict=conflict, conflict_code=code, conflict_with_id=with_id, row_hash=new_hash
    )


def flagged_ids(rows: Iterable[Mapping[str, Any]]) -> set[int]:
    """The ids among crossing ``rows`` that are flagged: ``conflict`` (decided when stored)
    or ``conflict_with_id`` (found by the timeline later)."""
    return {
        int(row["id"]) for row in rows if row["conflict"] or row["conflict_with_id"] is not None
    }
