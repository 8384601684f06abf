"""Model-based test of the quota / people-out state: ``decide`` against a brute-force model.

The reference model below is written from the design brief, not from ``passes.schedule``:
it keeps a plain list of every allowed exit and counts each window by brute force (local
dates for calendar windows, ``(now - L h, now]`` for rolling ones). Random sequences of
exits, entries, clock advances, quarantine and exemption changes and overrides must give
the same verdicts, codes, people-out counts and next allowed exit times, and the quota is
never exceeded without an override.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from strategies import COMMUNITY, default_keyset, household, signed_text

from passes import (
    Code,
    Direction,
    ExitHours,
    HouseholdStatus,
    Override,
    Quota,
    RuleSet,
    WindowKind,
    decide,
)

# A pass valid from a day before each run's start for 400 days (the longest a pass may be
# valid): a run of at most 40 steps of at most 4 days never reaches its expiry.
PASS_VALIDITY = timedelta(days=400)
# DST-free zones, fractional offsets included (China has no DST; see the report on DST).
MODEL_ZONES = ("Asia/Shanghai", "UTC", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Kiritimati")
OVERRIDE = Override("值班负责人", "model test")
READINGS = (365, 365, 365, 365, 372, 373, 401, None, 36.5, 339, 431)


@st.composite
def model_rules(draw: st.DrawFn) -> RuleSet:
    window = draw(st.sampled_from(WindowKind))
    length = draw(st.integers(1, 4) if window is WindowKind.CALENDAR_DAYS else st.integers(1, 96))
    quota = draw(st.none() | st.just(Quota(draw(st.integers(1, 3)), window, length)))
    clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 0, 15, 30, 59]))
    hours = draw(
        st.none()
        | st.tuples(clock, clock).filter(lambda p: p[0] != p[1]).map(lambda p: ExitHours(*p))
    )
    return RuleSet(
        timezone=draw(st.sampled_from(MODEL_ZONES)),
        quota=quota,
        max_out_at_once=draw(st.integers(1, 3)),
        exit_hours=hours,
    )


@dataclass
class ModelExit:
    at: datetime
    overridden: bool
    exempt: bool


class Reference:
    """The household as the design brief describes it, computed the slow, obvious way."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.zone = ZoneInfo(rules.timezone)
        self.exits: list[ModelExit] = []
        self.out = 0
        self.status = HouseholdStatus.NORMAL
        self.quarantine_until: datetime | None = None

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def in_window(self, exit_at: datetime, now: datetime) -> bool:
        quota = self.rules.quota
        assert quota is not None
        if exit_at > now:
            return False
        if quota.window is WindowKind.ROLLING_HOURS:
            return now - exit_at < timedelta(hours=quota.length)
        return (self.local_date(now) - self.local_date(exit_at)).days < quota.length

    def counted(self, now: datetime) -> int:
        if self.rules.quota is None:
            return 0
        return sum(1 for e in self.exits if self.in_window(e.at, now))

    def quarantined(self, now: datetime) -> bool:
        if self.status is not HouseholdStatus.QUARANTINED:
            return False
        return self.quarantine_until is None or now < self.quarantine_until

    def in_hours(self, now: datetime) -> bool:
        hours = self.rules.exit_hours
        if hours is None:
            return True
        wall = now.astimezone(self.zone)
        minutes = wall.hour * 60 + wall.minute
        start = hours.start.hour * 60 + hours.start.minute
        end = hours.end.hour * 60 + hours.end.minute
        if start < end:
            return start <= minutes < end
        return minutes >= start or minutes < end

    def quota_full(self, now: datetime) -> bool:
        quota = self.rules.quota
        if quota is None or self.status is HouseholdStatus.EXEMPT:
            return False
        return self.counted(now) >= quota.exits

    def health(self, reading: object) -> list[Code]:
        if reading is None:
            return [Code.NO_TEMPERATURE]
        if type(reading) is not int or not 340 <= reading <= 430:
            return [Code.SENSOR_ERROR]
        return [Code.FEVER] if reading >= 373 else []

    def exit_codes(self, now: datetime) -> list[Code]:
        codes = []
        if self.quarantined(now):
            codes.append(Code.QUARANTINED)
        if not self.in_hours(now):
            codes.append(Code.OUTSIDE_HOURS)
        if self.out >= self.rules.max_out_at_once:
            codes.append(Code.ALREADY_OUT)
        if self.quota_full(now):
            codes.append(Code.QUOTA)
        return codes

    def exit_clear(self, moment: datetime) -> bool:
        """Quarantine, hours and quota (not people out) allow an exit at ``moment``."""
        return (
            not self.quarantined(moment) and self.in_hours(moment) and not self.quota_full(moment)
        )

    def next_exit(self, now: datetime) -> datetime | None:
        """Earliest moment >= now that is clear: it is ``now`` or the start of a clear span."""
        if self.quarantined(now) and self.quarantine_until is None:
            return None
        candidates = {now}
        if self.quarantine_until is not None:
            candidates.add(self.quarantine_until)
        quota = self.rules.quota
        for e in self.exits:
            if quota is None:
                break
            if quota.window is WindowKind.ROLLING_HOURS:
                candidates.add(e.at + timedelta(hours=quota.length))
            else:
                day = self.local_date(e.at) + timedelta(days=quota.length)
                candidates.add(datetime(day.year, day.month, day.day, tzinfo=self.zone))
        hours = self.rules.exit_hours
        if hours is not None:
            first, last = self.local_date(now), self.local_date(max(candidates))
            for offset in range((last - first).days + 2):
                day = first + timedelta(days=offset)
                candidates.add(datetime.combine(day, hours.start, tzinfo=self.zone))
        for moment in sorted(c.astimezone(UTC) for c in candidates if c >= now):
            if self.exit_clear(moment):
                return moment
        raise AssertionError("no clear moment found")  # pragma: no cover


class QuotaMachine(RuleBasedStateMachine):
    """Drives ``decide`` and the reference side by side."""

    @initialize(
        rules=model_rules(),
        start=st.datetimes(
            min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
        ),
    )
    def setup(self, rules: RuleSet, start: datetime) -> None:
        self.rules = rules
        self.now = start.replace(microsecond=0)
        issued_at = self.now - timedelta(days=1)
        self.pass_text = signed_text(issued_at=issued_at, valid_until=issued_at + PASS_VALIDITY)
        self.state = household()
        self.model = Reference(rules)

    # --- the office and the clock --------------------------------------------------------

    @rule(
        step=st.one_of(
            st.integers(1, 120),  # seconds
            st.integers(60, 3 * 3600),  # minutes to hours
            st.integers(3600, 4 * 86400),  # hours to days
        )
    )
    def advance_clock(self, step: int) -> None:
        self.now += timedelta(seconds=step)

    @rule(days=st.none() | st.integers(0, 10 * 24 * 3600))
    def quarantine(self, days: int | None) -> None:
        until = None if days is None else self.now + timedelta(seconds=days)
        self.state = replace(self.state, status=HouseholdStatus.QUARANTINED, quarantine_until=until)
        self.model.status, self.model.quarantine_until = HouseholdStatus.QUARANTINED, until

    @rule()
    def exempt(self) -> None:
        self.state = replace(self.state, status=HouseholdStatus.EXEMPT, quarantine_until=None)
        self.model.status, self.model.quarantine_until = HouseholdStatus.EXEMPT, None

    @rule()
    def back_to_normal(self) -> None:
        self.state = replace(self.state, status=HouseholdStatus.NORMAL, quarantine_until=None)
        self.model.status, self.model.quarantine_until = HouseholdStatus.NORMAL, None

    # --- crossings -----------------------------------------------------------------------

    def _cross(self, direction: Direction, reading: object, override: bool) -> None:
        verdict = decide(
            self.pass_text,
            keys=default_keyset(),
            community_id=COMMUNITY,
            household=self.state,
            revoked_pass_ids=frozenset(),
            rules=self.rules,
            direction=direction,
            temperature=reading,
            now=self.now,
            override=OVERRIDE if override else None,
        )
        model = self.model
        codes = model.health(reading)
        if direction is Direction.OUT:
            codes += model.exit_codes(self.now)
        remeasure = Code.SENSOR_ERROR in codes or Code.NO_TEMPERATURE in codes
        allowed = not codes or (override and not remeasure)

        assert verdict.codes == tuple(codes)
        assert verdict.allowed is allowed
        assert (Code.OVERRIDE in verdict.notes) is (allowed and bool(codes))
        if allowed and direction is Direction.OUT:
            model.exits.append(
                ModelExit(self.now, bool(codes), model.status is HouseholdStatus.EXEMPT)
            )
            model.out += 1
        elif allowed:
            model.out = max(0, model.out - 1)
        assert verdict.state_after is not None
        self.state = verdict.state_after
        assert len(self.state.out_since) == model.out
        assert set(self.state.exits) <= {e.at for e in model.exits}
        assert verdict.next_exit_at == model.next_exit(self.now)

    @rule(reading=st.sampled_from(READINGS), override=st.booleans())
    def exit(self, reading: object, override: bool) -> None:
        self._cross(Direction.OUT, reading, override)

    @precondition(lambda self: self.model.out > 0)
    @rule(reading=st.sampled_from(READINGS))
    def entry(self, reading: object) -> None:
        self._cross(Direction.IN, reading, False)

    @rule(reading=st.sampled_from(READINGS), override=st.booleans())
    def entry_any_time(self, reading: object, override: bool) -> None:
        self._cross(Direction.IN, reading, override)

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def quota_is_never_exceeded_without_an_override(self) -> None:
        quota = self.model.rules.quota
        if quota is None:
            return
        exits = self.model.exits
        for i, e in enumerate(exits):
            if e.overridden or e.exempt:
                continue
            # This exit and the ones before it (later exits may share its second).
            in_window = [x for x in exits[: i + 1] if self.model.in_window(x.at, e.at)]
            assert len(in_window) <= quota.exits


QuotaMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_decide_agrees_with_a_brute_force_household_model = QuotaMachine.TestCase
