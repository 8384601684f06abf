"""Time edges: pass validity, quota windows in local time, rolling windows and exit hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from strategies import (
    COMMUNITY,
    ONE_SECOND,
    crossing,
    default_keyset,
    household,
    local,
    signed_text,
)

from passes import (
    Code,
    Direction,
    ExitHours,
    HouseholdStatus,
    Override,
    PassRejected,
    Quota,
    RuleSet,
    VerifiedPass,
    WindowKind,
    verify_pass,
)

ISSUED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
UNTIL = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
TEXT = signed_text(issued_at=ISSUED, valid_until=UNTIL)


@pytest.mark.parametrize(
    ("now", "code"),
    [
        (ISSUED - ONE_SECOND, Code.NOT_YET_VALID),
        (ISSUED, None),
        (ISSUED + ONE_SECOND, None),
        (UNTIL - ONE_SECOND, None),
        (UNTIL, None),  # valid_until is inclusive
        (UNTIL + timedelta(microseconds=1), Code.EXPIRED),
        (UNTIL + ONE_SECOND, Code.EXPIRED),
    ],
)
def test_pass_is_valid_from_issued_at_through_valid_until_inclusive(
    now: datetime, code: Code | None
) -> None:
    check = verify_pass(TEXT, default_keyset(), community_id=COMMUNITY, now=now)
    if code is None:
        assert isinstance(check, VerifiedPass)
    else:
        assert isinstance(check, PassRejected)
        assert check.code is code


def test_expired_pass_is_refused_even_with_an_override() -> None:
    verdict = crossing(text=TEXT, now=UNTIL + ONE_SECOND, override=Override("王主任", "urgent"))
    assert not verdict.allowed
    assert verdict.codes == (Code.EXPIRED,)


# --- calendar window (1 exit per 3 local days, Asia/Shanghai) --------------------------------

FIRST_EXIT = local(2026, 11, 22, 23, 59, 59)
CALENDAR = RuleSet()  # default: 1 exit per 3 calendar days in Asia/Shanghai


def test_exit_late_on_the_22nd_sets_next_exit_at_local_midnight_of_the_25th() -> None:
    verdict = crossing(now=FIRST_EXIT, rules=CALENDAR)

    assert verdict.allowed
    assert verdict.next_exit_at == local(2026, 11, 25, 0, 0, 0)
    assert verdict.next_exit_at == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def _back_home_after(first_exit: datetime) -> object:
    out = crossing(now=first_exit, rules=CALENDAR)
    back = crossing(
        direction=Direction.IN, now=first_exit + timedelta(hours=1), state=out.state_after
    )
    assert back.allowed
    return back.state_after


def test_second_exit_one_second_before_local_midnight_of_the_25th_is_refused_with_quota() -> None:
    state = _back_home_after(FIRST_EXIT)

    verdict = crossing(now=local(2026, 11, 24, 23, 59, 59), state=state, rules=CALENDAR)

    assert not verdict.allowed
    assert verdict.codes == (Code.QUOTA,)
    assert verdict.next_exit_at == local(2026, 11, 25, 0, 0, 0)


def test_second_exit_at_local_midnight_of_the_25th_is_allowed() -> None:
    state = _back_home_after(FIRST_EXIT)

    verdict = crossing(now=local(2026, 11, 25, 0, 0, 0), state=state, rules=CALENDAR)

    assert verdict.allowed
    assert verdict.codes == ()
    assert verdict.next_exit_at == local(2026, 11, 28, 0, 0, 0)


def test_exit_at_local_midnight_of_the_22nd_counts_for_the_22nd_not_the_21st() -> None:
    state = _back_home_after(local(2026, 11, 22, 0, 0, 0))
    assert not crossing(now=local(2026, 11, 24, 23, 59, 59), state=state).allowed
    assert crossing(now=local(2026, 11, 25, 0, 0, 0), state=state).allowed


def test_exit_one_second_before_local_midnight_counts_for_the_previous_day() -> None:
    state = _back_home_after(local(2026, 11, 21, 23, 59, 59))
    assert crossing(now=local(2026, 11, 24, 0, 0, 0), state=state).allowed


# --- rolling window --------------------------------------------------------------------------

ROLLING = RuleSet(quota=Quota(exits=1, window=WindowKind.ROLLING_HOURS, length=72))
ROLLING_EXIT = datetime(2026, 11, 22, 5, 30, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "allowed"),
    [
        (timedelta(hours=72) - ONE_SECOND, False),
        (timedelta(hours=72), True),
        (timedelta(hours=72) + ONE_SECOND, True),
    ],
)
def test_rolling_window_frees_the_quota_exactly_length_hours_after_the_exit(
    after: timedelta, allowed: bool
) -> None:
    first = crossing(now=ROLLING_EXIT, rules=ROLLING)
    assert first.next_exit_at == ROLLING_EXIT + timedelta(hours=72)
    back = crossing(direction=Direction.IN, now=ROLLING_EXIT + ONE_SECOND, state=first.state_after)

    verdict = crossing(now=ROLLING_EXIT + after, state=back.state_after, rules=ROLLING)

    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.codes == (Code.QUOTA,)
        assert verdict.next_exit_at == ROLLING_EXIT + timedelta(hours=72)


# --- exit hours ------------------------------------------------------------------------------

DAYTIME = RuleSet(quota=None, exit_hours=ExitHours(time(6, 0), time(20, 0)))
NIGHT = RuleSet(quota=None, exit_hours=ExitHours(time(22, 0), time(6, 0)))


@pytest.mark.parametrize(
    ("rules", "wall_clock", "allowed", "next_opening"),
    [
        (DAYTIME, (5, 59, 59), False, (22, 6, 0, 0)),
        (DAYTIME, (6, 0, 0), True, None),
        (DAYTIME, (12, 0, 0), True, None),
        (DAYTIME, (19, 59, 59), True, None),
        (DAYTIME, (20, 0, 0), False, (23, 6, 0, 0)),  # end is exclusive
        (DAYTIME, (23, 59, 59), False, (23, 6, 0, 0)),
        (DAYTIME, (0, 0, 0), False, (22, 6, 0, 0)),
        (NIGHT, (21, 59, 59), False, (22, 22, 0, 0)),
        (NIGHT, (22, 0, 0), True, None),
        (NIGHT, (23, 59, 59), True, None),
        (NIGHT, (0, 0, 0), True, None),
        (NIGHT, (5, 59, 59), True, None),
        (NIGHT, (6, 0, 0), False, (22, 22, 0, 0)),  # end is exclusive
        (NIGHT, (12, 0, 0), False, (22, 22, 0, 0)),
    ],
)
def test_exit_hours_edges_and_next_opening(
    rules: RuleSet,
    wall_clock: tuple[int, int, int],
    allowed: bool,
    next_opening: tuple[int, int, int, int] | None,
) -> None:
    now = local(2026, 11, 22, *wall_clock)

    verdict = crossing(now=now, rules=rules)

    assert verdict.allowed is allowed
    if allowed:
        assert verdict.codes == ()
        assert verdict.next_exit_at == now
    else:
        assert verdict.codes == (Code.OUTSIDE_HOURS,)
        assert next_opening is not None
        assert verdict.next_exit_at == local(2026, 11, *next_opening)


def test_entry_outside_exit_hours_is_allowed() -> None:
    out = household(out_since=(local(2026, 11, 22, 12, 0, 0),))
    verdict = crossing(
        direction=Direction.IN, now=local(2026, 11, 22, 23, 0, 0), state=out, rules=DAYTIME
    )
    assert verdict.allowed
    assert verdict.codes == ()


def test_quota_refusal_outside_hours_points_to_first_opening_after_the_window() -> None:
    rules = RuleSet(exit_hours=ExitHours(time(6, 0), time(20, 0)))
    state = household(exits=(local(2026, 11, 22, 19, 0, 0),))

    verdict = crossing(now=local(2026, 11, 24, 21, 0, 0), state=state, rules=rules)

    assert verdict.codes == (Code.OUTSIDE_HOURS, Code.QUOTA)
    assert verdict.next_exit_at == local(2026, 11, 25, 6, 0, 0)


def test_quarantine_refusal_points_to_the_end_of_quarantine() -> None:
    until = local(2026, 11, 30, 0, 0, 0)
    state = household(status=HouseholdStatus.QUARANTINED, quarantine_until=until)

    verdict = crossing(now=local(2026, 11, 22, 10, 0, 0), state=state, rules=RuleSet())

    assert verdict.codes == (Code.QUARANTINED,)
    assert verdict.next_exit_at == until


def test_quarantine_reason_names_the_last_day_covered() -> None:
    from passes import Code, RuleSet, describe, last_day_covered

    rules = RuleSet(timezone="Asia/Shanghai")
    ends = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # 11-30 00:00 in Shanghai
    assert last_day_covered(ends, rules).isoformat() == "2026-11-29"
    assert last_day_covered(ends + timedelta(seconds=1), rules).isoformat() == "2026-11-30"
    text = describe(
        allowed=False,
        code=Code.QUARANTINED,
        notes=(),
        next_exit=ends,
        timezone="Asia/Shanghai",
        lang="en",
    )
    assert text.endswith("(until 11-29)")
