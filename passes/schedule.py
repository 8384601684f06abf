"""Time arithmetic of the rules: quota windows, exit hours, next allowed exit, overdue.

All inputs and outputs are aware UTC datetimes; local dates and wall-clock hours are
read in the rule set's zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from passes.lockdown import sealing_lock
from passes.rules import RuleSet, WindowKind
from passes.state import HouseholdState, HouseholdStatus


def local_midnight(day: date, rules: RuleSet) -> datetime:
    """The UTC instant at which local ``day`` begins."""
    return datetime.combine(day, time(0), tzinfo=rules.zone).astimezone(UTC)


def counted_exits(state: HouseholdState, rules: RuleSet, now: datetime) -> tuple[datetime, ...]:
    """The household's exits that count towards the quota window ending at ``now``.

    Calendar window of L days: exits on the local dates ``today-L+1 .. today``.
    Rolling window of L hours: exits strictly after ``now - L h``.
    """
    if rules.quota is None:
        return ()
    length = rules.quota.length
    if rules.quota.window is WindowKind.ROLLING_HOURS:
        start = now - timedelta(hours=length)
        return tuple(t for t in state.exits if start < t <= now)
    first_day = now.astimezone(rules.zone).date() - timedelta(days=length - 1)
    start = local_midnight(first_day, rules)
    return tuple(t for t in state.exits if start <= t <= now)


def quota_free_at(
    state: HouseholdState, rules: RuleSet, now: datetime, units: int = 1
) -> datetime | None:
    """The earliest moment >= ``now`` at which ``units`` more exits fit the quota (None:
    never, ``units`` is more than the quota allows in any window)."""
    if rules.quota is None:
        return now
    if units > rules.quota.exits:
        return None
    counted = sorted(counted_exits(state, rules, now))
    surplus = len(counted) + units - 1 - rules.quota.exits
    if surplus < 0:
        return now
    # The exit that must leave the window before one more fits.
    leaving = counted[surplus]
    if rules.quota.window is WindowKind.ROLLING_HOURS:
        return leaving + timedelta(hours=rules.quota.length)
    leaving_day = leaving.astimezone(rules.zone).date()
    return local_midnight(leaving_day + timedelta(days=rules.quota.length), rules)


def within_exit_hours(rules: RuleSet, now: datetime) -> bool:
    """True iff exits are allowed at ``now`` by the exit hours (True if there are none)."""
    if rules.exit_hours is None:
        return True
    return rules.exit_hours.contains(now.astimezone(rules.zone).time())


def next_opening(rules: RuleSet, now: datetime) -> datetime:
    """``now`` if inside exit hours, else the next start of the exit hours."""
    if rules.exit_hours is None or within_exit_hours(rules, now):
        return now
    local = now.astimezone(rules.zone)
    opening = datetime.combine(local.date(), rules.exit_hours.start, tzinfo=rules.zone)
    if opening <= local:
        opening = datetime.combine(
            local.date() + timedelta(days=1), rules.exit_hours.start, tzinfo=rules.zone
        )
    return opening.astimezone(UTC)


def next_exit_at(
    state: HouseholdState, rules: RuleSet, now: datetime, people: int = 1
) -> datetime | None:
    """The earliest moment >= ``now`` when an exit of ``people`` persons would pass a sealed
    zone, quarantine, quota and hours.

    None while sealed or quarantined with no end date, or when the group is larger than the
    quota. Ignores people already out (that depends on someone coming home, not on time).
    Each step only moves the moment later, so it is repeated until none moves it (a seal that
    starts while the quota waits).
    """
    if not state.zones:  # one pass, exactly as before zones existed
        return _next_candidate(state, rules, now, rules.units(people))
    moment = now
    for _ in range(16):  # a few locks back to back at most; a bound, not a limit in practice
        later = _next_candidate(state, rules, moment, rules.units(people))
        if later is None or later == moment:
            return later
        moment = later
    return moment


def _next_candidate(
    state: HouseholdState, rules: RuleSet, now: datetime, units: int
) -> datetime | None:
    moment = now
    seal = sealing_lock(state.zones, moment)
    if seal is not None:
        if seal.ends_at is None:
            return None
        moment = seal.ends_at
    if state.is_quarantined(moment):
        if state.quarantine_until is None:
            return None
        moment = state.quarantine_until
    if state.status is not HouseholdStatus.EXEMPT:
        free = quota_free_at(state, rules, moment, units)
        if free is None:
            return None
        moment = max(moment, free)
    return next_opening(rules, moment)


def overdue_since(state: HouseholdState, rules: RuleSet, now: datetime) -> tuple[datetime, ...]:
    """Exit times of members out longer than ``max_outside_minutes`` (empty if no limit)."""
    if rules.max_outside_minutes is None:
        return ()
    limit = now - timedelta(minutes=rules.max_outside_minutes)
    return tuple(t for t in state.out_since if t < limit)


def last_day_covered(end: datetime, rules: RuleSet) -> date:
    """The last local date a period ending at ``end`` covers.

    A quarantine entered as "through 11-29" ends at local midnight starting 11-30; people
    read it as "until 11-29", so that is the date to show.
    """
    local = end.astimezone(rules.zone)
    if local.time() == time(0):
        return local.date() - timedelta(days=1)
    return local.date()
