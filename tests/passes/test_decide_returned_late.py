"""``returned_late``: an entry of the person out longest, past ``max_outside_minutes``."""

from __future__ import annotations

from datetime import timedelta

from strategies import NOW, crossing, household

from passes import Code, Direction, RuleSet


def test_decide_notes_a_late_return_only_past_the_limit() -> None:
    rules = RuleSet(max_outside_minutes=60)
    out = household(out_since=(NOW - timedelta(minutes=61),))
    late = crossing(direction=Direction.IN, state=out, rules=rules)
    on_time = crossing(
        direction=Direction.IN,
        state=household(out_since=(NOW - timedelta(minutes=60),)),
        rules=rules,
    )
    no_limit = crossing(direction=Direction.IN, state=out, rules=RuleSet())
    assert late.allowed
    assert late.notes == (Code.RETURNED_LATE,)
    assert late.reason() == "超时返回，请提醒住户按时返回"
    assert on_time.allowed
    assert on_time.notes == ()
    assert no_limit.allowed
    assert no_limit.notes == ()


def test_only_the_person_out_longest_comes_home_so_only_that_one_counts() -> None:
    rules = RuleSet(max_outside_minutes=60, max_out_at_once=2)
    state = household(out_since=(NOW - timedelta(minutes=30), NOW - timedelta(minutes=20)))
    assert crossing(direction=Direction.IN, state=state, rules=rules).notes == ()
