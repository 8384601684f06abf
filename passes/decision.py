"""The one decision function: (pass, household, rules, direction, temperature, now) -> verdict.

Both the gate server and an offline scanner call :func:`decide`, so online and
offline verdicts cannot drift apart.

Order of evaluation (documented contract):

1. Pass validity (:mod:`passes.verification`), then ``revoked``,
   ``unknown_household``, ``superseded`` (generation differs from the household's). The first
   failure stops evaluation: nothing about a household is trusted before this.
2. Health: ``sensor_error`` (not an integer of tenths, or outside the plausible
   range), ``no_temperature`` (missing where required), ``fever`` (>= threshold,
   either direction).
3. Household rules, exits only: ``zone_sealed_*`` (a sealed lockdown zone over the
   household, exempt ones included: :mod:`passes.lockdown`), ``exits_closed``,
   ``quarantined``, ``outside_hours``, ``already_out``, ``quota`` (not for exempt households).
   When the rules count people (``count: people``) a crossing of n people needs room for n
   more out and n more quota exits, and moves n people; otherwise a crossing is one unit.

Steps 2 and 3 collect every failing code; the first is the primary code.
Entries are allowed unless step 1 or 2 fails; an entry with nobody out is noted
``entry_without_exit``. A supervisor :class:`Override` turns a refusal from steps
2-3 into an allowed crossing (keeping its codes), except ``sensor_error`` and
``no_temperature``, which always need a new reading; step 1 refusals (a bad,
stale or foreign pass) cannot be overridden: the office re-issues the pass.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from passes.codes import REMEASURE_CODES, UNTIL_CODES, Code, reason
from passes.keys import KeySet
from passes.lockdown import SEALED_CODES, sealing_lock
from passes.rules import RuleSet
from passes.schedule import (
    counted_exits,
    last_day_covered,
    next_exit_at,
    overdue_since,
    within_exit_hours,
)
from passes.state import Direction, HouseholdState, HouseholdStatus, advance
from passes.verification import PassCheck, PassRejected, VerifiedPass, verify_pass


@dataclass(frozen=True)
class Override:
    """A named supervisor lets a refused crossing through, with a reason. Both required.

    ``card``: the supervisor card text (:mod:`passes.supervisor_card`) the override was made
    with, when it was; carried to the gate server, which verifies it. The decision itself
    does not look at it."""

    supervisor: str
    reason: str
    card: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.supervisor.strip() or not self.reason.strip():
            raise ValueError("an override needs the supervisor's name and a reason")


@dataclass(frozen=True)
class Verdict:
    """The decision for one crossing, as data.

    ``code`` is the primary refusal code (kept when overridden); ``codes`` all
    failing codes in evaluation order; ``notes`` remarks on an allowed crossing.
    ``state_after`` is the household state once this crossing is recorded.
    """

    allowed: bool
    direction: Direction
    code: Code | None
    codes: tuple[Code, ...]
    notes: tuple[Code, ...]
    rule_version: int
    next_exit_at: datetime | None
    household_id: int | None
    pass_id: bytes | None
    temperature_tenths: int | None
    state_after: HouseholdState | None
    override: Override | None
    timezone: str

    @property
    def display(self) -> Literal["allow", "refuse", "remeasure"]:
        """Colour family for a screen: green, red or amber."""
        if self.allowed:
            return "allow"
        return "remeasure" if self.code in REMEASURE_CODES else "refuse"

    def reason(self, lang: str = "zh") -> str:
        """One line for the volunteer, in ``lang`` ("zh" or "en")."""
        return describe(
            allowed=self.allowed,
            code=self.code,
            notes=self.notes,
            next_exit=self.next_exit_at,
            timezone=self.timezone,
            lang=lang,
        )


def describe(
    *,
    allowed: bool,
    code: Code | None,
    notes: tuple[Code, ...],
    next_exit: datetime | None,
    timezone: str,
    lang: str = "zh",
) -> str:
    """The one-line reason for a verdict given its stored facts.

    Used for fresh verdicts and for verdicts read back from a log, so both read alike.
    """
    if allowed:
        if Code.OVERRIDE in notes:
            return reason(Code.OVERRIDE, lang)
        if notes:
            return reason(notes[0], lang)
        return "准予通行" if lang == "zh" else "Allowed"
    if code is None:
        raise ValueError("a refusal needs a code")
    when = None
    if next_exit is not None and code in UNTIL_CODES:
        when = last_day_covered(next_exit, RuleSet(timezone=timezone)).strftime("%m-%d")
    elif next_exit is not None and code in _TIMED_CODES:
        when = next_exit.astimezone(ZoneInfo(timezone)).strftime("%m-%d %H:%M")
    return reason(code, lang, next_exit=when)


_TIMED_CODES = frozenset({Code.QUOTA, Code.OUTSIDE_HOURS, *UNTIL_CODES})

MAX_PEOPLE = 20
"""Most persons one crossing may carry (a household with its children, not a crowd)."""


def decide(
    presented: str | PassCheck,
    *,
    keys: KeySet,
    community_id: int,
    household: HouseholdState | None,
    revoked_pass_ids: Container[bytes],
    rules: RuleSet,
    direction: Direction,
    temperature: object,
    now: datetime,
    override: Override | None = None,
    people: int = 1,
) -> Verdict:
    """Decide one crossing. Pure: everything it knows comes in as arguments.

    ``presented`` is the raw scanned text, or the result of an earlier
    :func:`verify_pass` (the server verifies before it locks the household row).
    ``temperature`` is integer tenths of a degree Celsius or None; anything else
    (floats, strings, NaN, booleans) is a sensor error and never allowed.
    ``household`` is the state of the pass's household (None if unknown).
    ``people``: how many persons cross on this pass (1 to :data:`MAX_PEOPLE`; the volunteer
    enters it); it counts only when the rules count people. Raises ValueError otherwise.
    """
    if isinstance(people, bool) or not isinstance(people, int) or not 1 <= people <= MAX_PEOPLE:
        raise ValueError(f"people must be a whole number from 1 to {MAX_PEOPLE}")
    check = (
        verify_pass(presented, keys, community_id=community_id, now=now)
        if isinstance(presented, str)
        else presented
    )
    tenths = (
        temperature if isinstance(temperature, int) and not isinstance(temperature, bool) else None
    )
    refusal = _pass_refusal(check, household, revoked_pass_ids)
    if refusal is not None or household is None or not isinstance(check, VerifiedPass):
        code = refusal or Code.UNKNOWN_HOUSEHOLD
        return Verdict(
            allowed=False,
            direction=direction,
            code=code,
            codes=(code,),
            notes=(),
            rule_version=rules.version,
            next_exit_at=None,
            household_id=check.fields.household_id if check.fields else None,
            pass_id=check.fields.pass_id if check.fields else None,
            temperature_tenths=tenths,
            state_after=household,
            override=None,
            timezone=rules.timezone,
        )
    codes = [*health_codes(temperature, rules)]
    if direction is Direction.OUT:
        codes += _exit_codes(household, rules, now, rules.units(people))
    notes: list[Code] = []
    allowed = not codes
    if codes and override is not None and not REMEASURE_CODES.intersection(codes):
        allowed = True
        notes.append(Code.OVERRIDE)
    if allowed and direction is Direction.IN and not household.out_since:
        notes.append(Code.ENTRY_WITHOUT_EXIT)
    if allowed and direction is Direction.IN and _returns_late(household, rules, now):
        notes.append(Code.RETURNED_LATE)
    state_after = advance(household, direction, allowed, now, rules, people)
    return Verdict(
        allowed=allowed,
        direction=direction,
        code=codes[0] if codes else None,
        codes=tuple(codes),
        notes=tuple(notes),
        rule_version=rules.version,
        next_exit_at=next_exit_at(state_after, rules, now, people),
        household_id=household.household_id,
        pass_id=check.fields.pass_id,
        temperature_tenths=tenths,
        state_after=state_after,
        override=override if Code.OVERRIDE in notes else None,
        timezone=rules.timezone,
    )


def _pass_refusal(
    check: PassCheck, household: HouseholdState | None, revoked: Container[bytes]
) -> Code | None:
    if isinstance(check, PassRejected):
        return check.code
    if check.fields.pass_id in revoked:
        return Code.REVOKED
    if household is None or household.household_id != check.fields.household_id:
        return Code.UNKNOWN_HOUSEHOLD
    if check.fields.generation != household.generation:
        return Code.SUPERSEDED
    return None


def _returns_late(household: HouseholdState, rules: RuleSet, now: datetime) -> bool:
    """Whether the person an entry brings home (the longest out) was out past the limit."""
    late = overdue_since(household, rules, now)
    return bool(late) and late[0] == household.out_since[0]


def _is_tenths(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def health_codes(temperature: object, rules: RuleSet) -> list[Code]:
    """Step 2 for anyone crossing (household pass, visitor, walk-in): the health codes of a
    reading, in order; empty when it passes."""
    limits = rules.temperature
    if temperature is None:
        return [Code.NO_TEMPERATURE] if limits.required else []
    if not _is_tenths(temperature):
        return [Code.SENSOR_ERROR]
    assert isinstance(temperature, int)
    if not limits.plausible_min_tenths <= temperature <= limits.plausible_max_tenths:
        return [Code.SENSOR_ERROR]
    return [Code.FEVER] if temperature >= limits.fever_threshold_tenths else []


def _exit_codes(household: HouseholdState, rules: RuleSet, now: datetime, units: int) -> list[Code]:
    codes: list[Code] = []
    seal = sealing_lock(household.zones, now)
    if seal is not None:
        codes.append(SEALED_CODES[seal.scope])
    if rules.closed and household.status is not HouseholdStatus.EXEMPT:
        codes.append(Code.EXITS_CLOSED)
    if household.is_quarantined(now):
        codes.append(Code.QUARANTINED)
    if not within_exit_hours(rules, now):
        codes.append(Code.OUTSIDE_HOURS)
    if len(household.out_since) + units > rules.max_out_at_once:
        codes.append(Code.ALREADY_OUT)
    quota = rules.quota
    if (
        quota is not None
        and household.status is not HouseholdStatus.EXEMPT
        and len(counted_exits(household, rules, now)) + units > quota.exits
    ):
        codes.append(Code.QUOTA)
    return codes
