"""What the office asks of the crossing log: who is out, overdue, feverish, idle; counts.

Read-only functions for the office pages (except :func:`review_conflict`, which annotates a
conflict and writes an audit event). All times in and out are aware UTC unless a parameter
names a local day or a zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, cast, func, literal_column, not_, or_, select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.crossings.models import Crossing
from gate.crossings.quarter_counts import quarter_counts
from gate.devices.models import Gate
from gate.households.decision_state import household_state
from gate.households.models import Household
from passes import Direction, RuleSet, overdue_since


@dataclass(frozen=True)
class OutNow:
    """A household with people out: how many, since when (the earliest), for how long."""

    household_id: int
    household_code: str
    people_out: int
    out_since: datetime
    out_for: timedelta


@dataclass(frozen=True)
class Overdue:
    """A household with people out longer than the rules allow."""

    household_id: int
    household_code: str
    people_overdue: int
    out_since: datetime
    overdue_by: timedelta


@dataclass(frozen=True)
class FeverAlert:
    """A crossing refused (or flagged) for fever."""

    crossing_id: int
    scanned_at: datetime
    gate_code: str
    household_id: int | None
    household_code: str | None
    direction: Direction
    temperature_tenths: int | None
    allowed: bool


@dataclass(frozen=True)
class HourCount:
    """Crossings in one local hour; ``hour`` is the aware local start of the hour."""

    hour: datetime
    exits: int = 0
    entries: int = 0
    refused: int = 0

    @property
    def total(self) -> int:
        return self.exits + self.entries


@dataclass(frozen=True)
class IdleHousehold:
    """A household with no crossing in the period; ``last_crossing_at`` None if never."""

    household_id: int
    household_code: str
    last_crossing_at: datetime | None


def out_now(session: Session, community_id: int, now: datetime) -> list[OutNow]:
    """Households with at least one member out at ``now``, longest out first."""
    rows = session.scalars(
        select(Household).where(Household.community_id == community_id, Household.out_count > 0)
    )
    result = []
    for row in rows:
        state = household_state(row)
        if not state.out_since:
            continue
        since = state.out_since[0]
        result.append(OutNow(row.id, row.code, len(state.out_since), since, now - since))
    return sorted(result, key=lambda item: (item.out_since, item.household_code))


def overdue(session: Session, community_id: int, now: datetime, rules: RuleSet) -> list[Overdue]:
    """Households with a member out longer than ``rules.max_outside_minutes`` (none if unset).

    Uses the core's :func:`passes.overdue_since`, so the office and the rules agree.
    """
    if rules.max_outside_minutes is None:
        return []
    limit = timedelta(minutes=rules.max_outside_minutes)
    rows = session.scalars(
        select(Household).where(Household.community_id == community_id, Household.out_count > 0)
    )
    result = []
    for row in rows:
        late = overdue_since(household_state(row), rules, now)
        if late:
            result.append(Overdue(row.id, row.code, len(late), late[0], now - late[0] - limit))
    return sorted(result, key=lambda item: (item.out_since, item.household_code))


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` of local ``day`` in zone ``tz``."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def fever_alerts(session: Session, community_id: int, day: date, tz: str) -> list[FeverAlert]:
    """Crossings on local ``day`` whose verdict carries the ``fever`` code, in scan order.

    The verdict decides (not a temperature threshold here), so the office sees exactly what
    the gate saw, including offline scanners' verdicts.
    """
    start, end = local_day_bounds(day, tz)
    # Only the columns the alert shows: an index-only scan of the covering partial index.
    query = (
        select(
            Crossing.id,
            Crossing.scanned_at,
            Gate.code,
            Crossing.household_id,
            Household.code,
            Crossing.direction,
            Crossing.temperature_tenths,
            Crossing.allowed,
        )
        .join(Gate, Gate.id == Crossing.gate_id)
        .outerjoin(Household, Household.id == Crossing.household_id)
        .where(
            Crossing.community_id == community_id,
            Crossing.scanned_at >= start,
            Crossing.scanned_at < end,
            fever_condition(),
        )
        .order_by(Crossing.scanned_at, Crossing.id)
    )
    return [FeverAlert(*row) for row in session.execute(query)]


def fever_condition() -> ColumnElement[bool]:
    """A crossing whose verdict carries ``fever`` ("fever" is no substring of another code):
    the partial index's predicate (``models.FEVER_PREDICATE``) with literal values, as a
    bound parameter would hide from PostgreSQL that the query implies it."""
    fever: ColumnElement[str] = literal_column("'fever'")
    return or_(Crossing.code == fever, Crossing.codes.like(literal_column("'%fever%'")))


def crossings_per_hour(
    session: Session, community_id: int, start: datetime, end: datetime, tz: str
) -> list[HourCount]:
    """Allowed exits and entries, and refusals, per local hour in ``[start, end)``; every hour
    of the range is listed, empty ones with zeros.

    The counts are per UTC quarter hour (every real zone's offset is a multiple of 15
    minutes, so a quarter hour never straddles a local hour), pre-counted up to the
    roll-up's watermark and counted live above it (``gate.crossings.quarter_counts``);
    Python then folds the at most 4 x hours groups into local hours with zoneinfo, which
    gets DST and half-hour offsets right.
    """
    zone = ZoneInfo(tz)
    buckets: dict[datetime, list[int]] = {key: [0, 0, 0] for key in _hours(start, end, zone)}
    for moment, direction, allowed, count in quarter_counts(session, community_id, start, end):
        counts = buckets[_hour_key(moment, zone)]
        if not allowed:
            counts[2] += count
        elif direction == Direction.OUT.value:
            counts[0] += count
        else:
            counts[1] += count
    return [HourCount(key.astimezone(zone), *counts) for key, counts in sorted(buckets.items())]


_QUARTER = 900


def per_hour_statement(
    community_id: int, start: datetime, end: datetime, *, dialect: str = "postgresql"
) -> Select[Any]:
    """Counts per UTC quarter hour, direction and verdict straight from the log: what
    :func:`crossings_per_hour` counted before the roll-up, still the reference of its tests
    and benchmarks (PostgreSQL: an index-only scan of ``ix_crossings_community_id_scanned_at``)."""
    quarter = _quarter_hour(dialect)
    return (
        select(quarter, Crossing.direction, Crossing.allowed, func.count())
        .where(
            Crossing.community_id == community_id,
            Crossing.scanned_at >= start,
            Crossing.scanned_at < end,
        )
        .group_by(quarter, Crossing.direction, Crossing.allowed)
    )


def _quarter_hour(dialect: str) -> Any:
    """SQL for the UTC quarter hour of ``scanned_at`` (stored as naive UTC): its number on
    SQLite, its naive UTC start on PostgreSQL."""
    if dialect == "sqlite":
        seconds = cast(func.strftime("%s", Crossing.scanned_at), Integer)
        return (seconds / _QUARTER).label("quarter")
    # date_bin works on the timestamp's integer microseconds; extract(epoch) makes a numeric
    # per row, which at millions of rows costs more than reading them (3x measured).
    start: ColumnElement[datetime] = literal_column("TIMESTAMP '1970-01-01 00:00:00'")
    quarter = func.date_bin(literal_column("INTERVAL '15 minutes'"), Crossing.scanned_at, start)
    return quarter.label("quarter")


def _hour_key(moment: datetime, zone: ZoneInfo) -> datetime:
    # Keyed by the UTC instant of the local hour's start: two local 01:00s of a DST fall-back
    # compare equal as local datetimes but not as instants.
    local = moment.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _hours(start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    keys: dict[datetime, None] = {}
    moment = start
    while moment < end:  # quarter-hour steps catch every local hour, whatever the offset
        keys[_hour_key(moment, zone)] = None
        moment += timedelta(minutes=15)
    return list(keys)


def households_without_crossing(
    session: Session, community_id: int, days: int, now: datetime
) -> list[IdleHousehold]:
    """Households with no crossing (allowed or refused) in the ``days`` days before ``now``:
    people who may need a call from their grid worker. Never-seen households come first."""
    cutoff = now - timedelta(days=days)
    last_seen = (
        select(Crossing.household_id, func.max(Crossing.scanned_at).label("last_at"))
        .where(Crossing.community_id == community_id, Crossing.household_id.is_not(None))
        .group_by(Crossing.household_id)
        .subquery()
    )
    query = (
        select(Household.id, Household.code, last_seen.c.last_at)
        .outerjoin(last_seen, last_seen.c.household_id == Household.id)
        .where(
            Household.community_id == community_id,
            or_(last_seen.c.last_at.is_(None), last_seen.c.last_at < cutoff),
        )
    )
    rows = [IdleHousehold(*row) for row in session.execute(query)]
    return sorted(
        rows,
        key=lambda r: (r.last_crossing_at is not None, r.last_crossing_at or now, r.household_code),
    )


def refused_statement(community_id: int, start: datetime, end: datetime) -> Select[str | None, int]:
    """The SQL of :func:`refused_by_code` (read by the partial index ``ix_crossings_refused``)."""
    return (
        select(Crossing.code, func.count())  # count(*): the index alone answers
        .where(
            Crossing.community_id == community_id,
            not_(Crossing.allowed),  # NOT allowed: the partial index's predicate
            Crossing.scanned_at >= start,
            Crossing.scanned_at < end,
        )
        .group_by(Crossing.code)
    )


def refused_by_code(
    session: Session, community_id: int, start: datetime, end: datetime
) -> list[tuple[str, int]]:
    """Refused crossings in ``[start, end)`` counted by verdict code, most frequent first."""
    pairs = [
        (code or "", int(n))
        for code, n in session.execute(refused_statement(community_id, start, end))
    ]
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))


def conflicts(
    session: Session, community_id: int, reviewed: bool = False, limit: int = 500
) -> list[Crossing]:
    """Conflicts awaiting review (or, with ``reviewed=True``, already reviewed): crossings
    flagged when stored, and earlier ones the household timeline later found rule-breaking
    (``conflict_with_id``, outside the hash: see ``gate.crossings.timeline``)."""
    return list(session.scalars(conflicts_statement(community_id, reviewed=reviewed, limit=limit)))


def conflicts_statement(community_id: int, *, reviewed: bool, limit: int) -> Select[Any]:
    """The SQL of :func:`conflicts` (read by the partial index ``ix_crossings_conflicts``)."""
    query = (
        select(Crossing)
        .where(
            Crossing.community_id == community_id,
            # The partial index's predicate (models.CONFLICT_PREDICATE), bare booleans.
            or_(Crossing.conflict, Crossing.conflict_with_id.is_not(None)),
        )
        .order_by(Crossing.scanned_at, Crossing.id)
        .limit(limit)
    )
    if reviewed:
        return query.where(Crossing.conflict_reviewed_at.is_not(None))
    return query.where(Crossing.conflict_reviewed_at.is_(None))


class NotReviewable(ValueError):
    """The crossing cannot be reviewed; ``code`` says why: ``not_conflict``,
    ``reviewed_already`` or ``note_required``."""

    def __init__(self, code: str, crossing_id: int) -> None:
        super().__init__(code, crossing_id)
        self.code = code
        self.crossing_id = crossing_id


class Reviewer(Protocol):
    """Who reviews: a :class:`gate.accounts.models.User`, or the web's logged-in account."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...


def review_conflict(
    session: Session, crossing: Crossing, user: Reviewer, note: str, now: datetime
) -> Crossing:
    """Mark an offline conflict as reviewed by ``user`` with ``note``; audited (flushes).

    Only the review fields change; they are outside the row's hash, so the chain still
    verifies. Raises :class:`NotReviewable` for a non-conflict, an already reviewed one, or
    an empty note.
    """
    if not crossing.conflict and crossing.conflict_with_id is None:
        raise NotReviewable("not_conflict", crossing.id)
    if crossing.conflict_reviewed_at is not None:
        raise NotReviewable("reviewed_already", crossing.id)
    note = note.strip()
    if not note:
        raise NotReviewable("note_required", crossing.id)
    crossing.conflict_reviewed_at = now
    crossing.conflict_reviewed_by = user.username
    crossing.conflict_note = note
    record_event(
        session,
        actor=user.username,
        action="crossing.conflict_review",
        community_id=crossing.community_id,
        user_id=user.id,
        subject_type="crossing",
        subject_id=crossing.id,
        reason=note,
        details={"conflict_code": crossing.conflict_code, "gate_seq": crossing.gate_seq},
    )
    session.flush()
    return crossing


def recent_household_crossings(
    session: Session, community_id: int, household_id: int, *, limit: int
) -> list[Crossing]:
    """A household's latest ``limit`` crossings, newest first (the household page)."""
    return list(
        session.scalars(
            select(Crossing)
            .where(Crossing.community_id == community_id, Crossing.household_id == household_id)
            .order_by(Crossing.scanned_at.desc(), Crossing.id.desc())
            .limit(limit)
        )
    )
