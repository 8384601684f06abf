"""Time arithmetic of the rules: quota windows, exit hours, next allowed exit, overdue.

All inputs and outputs are aware UTC datetimes; local dates and wall-clock hours are
read in the rule set's zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

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


def quota_free_at(state: HouseholdState, rules: RuleSet, now: datetime) -> datetime:
    """The earliest moment >= ``now`` at which one more exit fits the quota."""
    if rules.quota is None:
        return now
    counted = sorted(counted_exits(state, rules, now))
    surplus = len(counted) - rules.quota.exits
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


def next_exit_at(state: HouseholdState, rules: RuleSet, now: datetime) -> datetime | None:
    """The earliest moment >= ``now`` when an exit would pass quarantine, quota and hours.

    None while quarantined with no end date. Ignores people already out (that
    depends on someone coming home, not on time).
    """
    moment = now
    if state.is_quarantined(now):
        if state.quarantine_until is None:
            return None
        moment = state.quarantine_until
    if state.status is not HouseholdStatus.EXEMPT:
        moment = max(moment, quota_free_at(state, rules, moment))
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
