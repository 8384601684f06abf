"""Dry run of proposed rules: replay the last N days of crossings and count the refusals.

What is replayed, per household in scan order, from a clean start N days back (nobody out,
no exits counted): each stored crossing's facts (direction, scan time, temperature, any
supervisor override) are decided again by :func:`passes.decide` under the proposed rules, and
the household state advances by the *replayed* verdict (an exit the new rules refuse does not
put anyone out). The household status at each crossing (quarantine, exemption) comes from
the household status history (``gate.households.status_history``), so a quarantine set
yesterday does not refuse last week's exits.

Not replayed, kept as they were: crossings refused for the pass itself (forged, expired,
revoked, ...; no rule changes that) and crossings without a household. Rows the server
rejected on upload are left out. Exits made before the window are unknown, so the first days
may count a little fewer quota refusals than the rules would really give.

Read-only and long (about 0.15 ms per crossing): entry points run it in a read-only unit of
work, never inside a write transaction (on SQLite that would block every scan).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing
from gate.households.models import Household
from gate.households.status_history import HouseholdStatusChange
from passes import (
    PASS_VALIDITY_CODES,
    Direction,
    HouseholdState,
    HouseholdStatus,
    KeyEntry,
    KeySet,
    Override,
    Pass,
    RuleSet,
    VerifiedPass,
    decide,
)

DEFAULT_DAYS = 7
MAX_DAYS = 90
EXAMPLES_PER_CODE = 3
_SENSOR_ERROR_READING = "sensor_error"  # not tenths: decide() answers sensor_error
_NO_CODE = ""
_DUMMY_KEY = KeyEntry(key_id=0, public_key=bytes(32))
_NO_KEYS = KeySet(())
_DAWN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StatusSpan:
    """From ``since`` on (until the next span), the household had this status."""

    since: datetime
    status: HouseholdStatus
    quarantine_until: datetime | None


@dataclass(frozen=True)
class CrossingFacts:
    """What the gate observed, independent of any rule."""

    crossing_id: int
    household_id: int | None
    household_code: str | None
    scanned_at: datetime
    direction: Direction
    temperature_tenths: int | None
    sensor_error: bool
    override: Override | None
    allowed: bool
    code: str | None


@dataclass(frozen=True)
class DryRunExample:
    """One crossing whose verdict the proposed rules would change."""

    crossing_id: int
    household_code: str | None
    scanned_at: datetime
    direction: Direction
    was_allowed: bool
    was_code: str | None
    code: str | None


@dataclass
class DryRunResult:
    """Counts of the replay. ``refused_by_code``: proposed rules; ``current_refused_by_code``:
    what the log holds for the same crossings. ``newly_refused``/``newly_allowed``: crossings
    whose verdict flips. ``examples``: a few newly refused crossings per code."""

    crossings: int = 0
    refused_by_code: Counter[str] = field(default_factory=Counter)
    current_refused_by_code: Counter[str] = field(default_factory=Counter)
    newly_refused: int = 0
    newly_allowed: int = 0
    examples: dict[str, list[DryRunExample]] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None

    @property
    def refused(self) -> int:
        return sum(self.refused_by_code.values())

    @property
    def current_refused(self) -> int:
        return sum(self.current_refused_by_code.values())

    def codes(self) -> list[str]:
        """Every code seen, most refusals (proposed) first."""
        keys = set(self.refused_by_code) | set(self.current_refused_by_code)
        return sorted(keys, key=lambda c: (-self.refused_by_code[c], c))


def replay(
    facts: Iterable[CrossingFacts],
    rules: RuleSet,
    *,
    statuses: Mapping[int, Sequence[StatusSpan]] | None = None,
    current: Mapping[int, StatusSpan] | None = None,
    examples_per_code: int = EXAMPLES_PER_CODE,
) -> DryRunResult:
    """Replay ``facts`` under ``rules`` (pure). ``facts`` MUST be ordered by household, then
    scan time (and id); households' states start clean. ``statuses`` gives each household's
    status history (ascending ``since``); before its first span (or without one) ``current``
    applies, else normal."""
    statuses = statuses or {}
    current = current or {}
    result = DryRunResult()
    state: HouseholdState | None = None
    for fact in facts:
        result.crossings += 1
        if not fact.allowed:
            result.current_refused_by_code[fact.code or _NO_CODE] += 1
        if fact.household_id is None or (not fact.allowed and fact.code in PASS_VALIDITY_CODES):
            if not fact.allowed:
                result.refused_by_code[fact.code or _NO_CODE] += 1
            continue
        if state is None or state.household_id != fact.household_id:
            state = HouseholdState(household_id=fact.household_id)
        span = _status_at(fact, statuses.get(fact.household_id, ()), current)
        state = HouseholdState(
            household_id=state.household_id,
            generation=1,
            status=span.status,
            quarantine_until=span.quarantine_until,
            out_since=state.out_since,
            exits=state.exits,
        )
        verdict = decide(
            VerifiedPass(_pass_for(fact), _DUMMY_KEY),
            keys=_NO_KEYS,
            community_id=0,
            household=state,
            revoked_pass_ids=frozenset(),
            rules=rules,
            direction=fact.direction,
            temperature=_SENSOR_ERROR_READING if fact.sensor_error else fact.temperature_tenths,
            now=fact.scanned_at,
            override=fact.override,
        )
        if verdict.state_after is not None:
            state = verdict.state_after
        code = None if verdict.code is None else verdict.code.value
        if not verdict.allowed:
            result.refused_by_code[code or _NO_CODE] += 1
        if fact.allowed and not verdict.allowed:
            result.newly_refused += 1
            shown = result.examples.setdefault(code or _NO_CODE, [])
            if len(shown) < examples_per_code:
                shown.append(
                    DryRunExample(
                        fact.crossing_id,
                        fact.household_code,
                        fact.scanned_at,
                        fact.direction,
                        fact.allowed,
                        fact.code,
                        code,
                    )
                )
        elif not fact.allowed and verdict.allowed:
            result.newly_allowed += 1
    return result


def _pass_for(fact: CrossingFacts) -> Pass:
    assert fact.household_id is not None
    whole = fact.scanned_at.replace(microsecond=0)
    return Pass(
        key_id=0,
        pass_id=bytes(12),
        household_id=fact.household_id,
        community_id=0,
        generation=1,
        issued_at=whole - timedelta(days=1),
        valid_until=whole + timedelta(days=1),
    )


def _status_at(
    fact: CrossingFacts, spans: Sequence[StatusSpan], current: Mapping[int, StatusSpan]
) -> StatusSpan:
    chosen: StatusSpan | None = None
    for span in spans:
        if span.since > fact.scanned_at:
            break
        chosen = span
    if chosen is not None:
        return chosen
    assert fact.household_id is not None
    return current.get(fact.household_id, StatusSpan(fact.scanned_at, HouseholdStatus.NORMAL, None))


# --- loading from the database ------------------------------------------------------------------


def dry_run(
    session: Session,
    community_id: int,
    rules: RuleSet,
    *,
    now: datetime,
    days: int = DEFAULT_DAYS,
) -> DryRunResult:
    """Replay the community's crossings of the last ``days`` days (clamped to 1..MAX_DAYS)
    before ``now`` under ``rules``. Read-only: it never flushes."""
    days = max(1, min(days, MAX_DAYS))
    start, end = now - timedelta(days=days), now
    households = {
        row.id: (row.code, StatusSpan(start, row.status, row.quarantine_until))
        for row in session.execute(
            select(
                Household.id, Household.code, Household.status, Household.quarantine_until
            ).where(Household.community_id == community_id)
        )
    }
    result = replay(
        _facts(
            session, community_id, {k: code for k, (code, _span) in households.items()}, start, end
        ),
        rules,
        statuses=status_history(session, community_id),
        current={k: span for k, (_code, span) in households.items()},
    )
    result.start, result.end = start, end
    return result


_FACT_COLUMNS = (
    Crossing.id,
    Crossing.household_id,
    Crossing.scanned_at,
    Crossing.direction,
    Crossing.temperature_tenths,
    Crossing.codes,
    Crossing.override_supervisor,
    Crossing.override_reason,
    Crossing.allowed,
    Crossing.code,
)


def _facts(
    session: Session,
    community_id: int,
    codes: Mapping[int, str],
    start: datetime,
    end: datetime,
) -> Iterable[CrossingFacts]:
    # Plain columns, not ORM rows: a 90-day window can hold hundreds of thousands.
    query = (
        select(*_FACT_COLUMNS)
        .where(
            Crossing.community_id == community_id,
            Crossing.scanned_at >= start,
            Crossing.scanned_at < end,
            Crossing.rejected.is_(False),
        )
        .order_by(Crossing.household_id, Crossing.scanned_at, Crossing.id)
        .execution_options(yield_per=2000)
    )
    for row in session.execute(query):
        code = codes.get(row.household_id) if row.household_id is not None else None
        override = (
            Override(supervisor=row.override_supervisor, reason=row.override_reason or "")
            if row.override_supervisor
            else None
        )
        yield CrossingFacts(
            crossing_id=row.id,
            household_id=row.household_id if code is not None else None,
            household_code=code,
            scanned_at=row.scanned_at,
            direction=row.direction,
            temperature_tenths=row.temperature_tenths,
            sensor_error=row.temperature_tenths is None and "sensor_error" in row.codes.split(),
            override=override,
            allowed=row.allowed,
            code=row.code,
        )


def status_history(session: Session, community_id: int) -> dict[int, list[StatusSpan]]:
    """Status spans per household id, from the household status history.

    A household's first span reaches back to the dawn of time: before its first recorded
    change it had that status as far as anyone knows (see ``gate.households.status_history``).
    """
    rows = session.execute(
        select(
            HouseholdStatusChange.household_id,
            HouseholdStatusChange.changed_at,
            HouseholdStatusChange.status,
            HouseholdStatusChange.quarantine_until,
        )
        .where(HouseholdStatusChange.community_id == community_id)
        .order_by(
            HouseholdStatusChange.household_id,
            HouseholdStatusChange.changed_at,
            HouseholdStatusChange.id,
        )
    )
    spans: dict[int, list[StatusSpan]] = {}
    for household_id, changed_at, status, until in rows:
        history = spans.setdefault(household_id, [])
        history.append(StatusSpan(changed_at if history else _DAWN, status, until))
    return spans
