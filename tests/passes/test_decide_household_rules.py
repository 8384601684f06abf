"""Household rules in ``decide``: quarantine, exemption, people out, overrides, code order."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from strategies import (
    COMMUNITY,
    HOUSEHOLD,
    NOW,
    ONE_SECOND,
    crossing,
    default_keyset,
    household,
    local,
    pass_fields,
    signed_text,
)

from passes import (
    Code,
    Direction,
    ExitHours,
    HouseholdStatus,
    Override,
    Quota,
    RuleSet,
    decide,
    verify_pass,
)

OVERRIDE = Override("王主任", "medicine run")
QUARANTINE_UNTIL = NOW + timedelta(days=7)
QUARANTINED = household(status=HouseholdStatus.QUARANTINED, quarantine_until=QUARANTINE_UNTIL)
EXEMPT = household(status=HouseholdStatus.EXEMPT)
EARLIER = NOW - timedelta(hours=2)


# --- quarantine ------------------------------------------------------------------------------


def test_exit_during_quarantine_is_refused_with_quarantined() -> None:
    verdict = crossing(state=QUARANTINED)
    assert not verdict.allowed
    assert verdict.codes == (Code.QUARANTINED,)
    assert verdict.next_exit_at == QUARANTINE_UNTIL
    assert verdict.state_after == QUARANTINED


def test_entry_during_quarantine_is_allowed() -> None:
    state = household(
        status=HouseholdStatus.QUARANTINED,
        quarantine_until=QUARANTINE_UNTIL,
        out_since=(EARLIER,),
    )
    verdict = crossing(direction=Direction.IN, state=state)
    assert verdict.allowed
    assert verdict.codes == ()
    assert verdict.state_after is not None
    assert verdict.state_after.out_since == ()


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (QUARANTINE_UNTIL - ONE_SECOND, False),
        (QUARANTINE_UNTIL, True),
        (QUARANTINE_UNTIL + ONE_SECOND, True),
    ],
)
def test_quarantine_ends_by_itself_at_quarantine_until(now, allowed: bool) -> None:
    verdict = crossing(state=QUARANTINED, now=now)
    assert verdict.allowed is allowed
    assert verdict.codes == (() if allowed else (Code.QUARANTINED,))


def test_open_ended_quarantine_has_no_next_exit_time() -> None:
    state = household(status=HouseholdStatus.QUARANTINED, quarantine_until=None)
    verdict = crossing(state=state, now=NOW + timedelta(days=30))
    assert verdict.codes == (Code.QUARANTINED,)
    assert verdict.next_exit_at is None


def test_quarantine_exit_with_override_is_allowed_and_counted() -> None:
    verdict = crossing(state=QUARANTINED, override=OVERRIDE)
    assert verdict.allowed
    assert verdict.codes == (Code.QUARANTINED,)
    assert verdict.notes == (Code.OVERRIDE,)
    assert verdict.state_after is not None
    assert verdict.state_after.exits == (NOW,)


# --- exemption -------------------------------------------------------------------------------


def test_exempt_household_has_no_quota() -> None:
    state = EXEMPT
    for hour in range(5):
        now = NOW + timedelta(hours=hour)
        verdict = crossing(state=state, now=now)
        assert verdict.allowed, hour
        assert verdict.next_exit_at == now
        back = crossing(
            direction=Direction.IN, state=verdict.state_after, now=now + 30 * ONE_SECOND
        )
        state = back.state_after
    assert state is not None
    assert len(state.exits) == 5


def test_exempt_household_is_still_refused_when_already_out() -> None:
    verdict = crossing(state=household(status=HouseholdStatus.EXEMPT, out_since=(EARLIER,)))
    assert verdict.codes == (Code.ALREADY_OUT,)


def test_exits_made_while_exempt_count_once_exemption_ends() -> None:
    state = crossing(state=EXEMPT).state_after
    assert state is not None
    back = crossing(direction=Direction.IN, state=state, now=NOW + ONE_SECOND).state_after
    assert back is not None
    verdict = crossing(state=household(exits=back.exits), now=NOW + timedelta(hours=1))
    assert verdict.codes == (Code.QUOTA,)


# --- people out at once ----------------------------------------------------------------------


def test_second_exit_while_a_member_is_out_is_refused_with_already_out() -> None:
    first = crossing(rules=RuleSet(quota=None))
    second = crossing(state=first.state_after, rules=RuleSet(quota=None), now=NOW + ONE_SECOND)
    assert first.allowed
    assert not second.allowed
    assert second.codes == (Code.ALREADY_OUT,)


def test_two_may_be_out_at_once_when_max_out_at_once_is_2() -> None:
    rules = RuleSet(quota=None, max_out_at_once=2)
    state = household()
    for i in range(2):
        verdict = crossing(state=state, rules=rules, now=NOW + i * ONE_SECOND)
        assert verdict.allowed, i
        state = verdict.state_after
    third = crossing(state=state, rules=rules, now=NOW + 2 * ONE_SECOND)
    assert third.codes == (Code.ALREADY_OUT,)
    assert state is not None
    back = crossing(direction=Direction.IN, state=state, rules=rules, now=NOW + 3 * ONE_SECOND)
    assert back.state_after is not None
    assert back.state_after.out_since == (NOW + ONE_SECOND,)  # the longest out came home
    assert crossing(state=back.state_after, rules=rules, now=NOW + 4 * ONE_SECOND).allowed


def test_entry_with_nobody_out_is_allowed_and_noted() -> None:
    verdict = crossing(direction=Direction.IN)
    assert verdict.allowed
    assert verdict.codes == ()
    assert verdict.notes == (Code.ENTRY_WITHOUT_EXIT,)
    assert verdict.state_after == household()


def test_entry_with_a_member_out_has_no_note() -> None:
    verdict = crossing(direction=Direction.IN, state=household(out_since=(EARLIER,)))
    assert verdict.allowed
    assert verdict.notes == ()


def test_refused_entry_carries_no_notes() -> None:
    # Verdict.notes are "remarks on an allowed crossing"; a crossing refused for fever did
    # not happen, so the office must not see it as an entry without an exit.
    verdict = crossing(direction=Direction.IN, temperature=390)
    assert not verdict.allowed
    assert verdict.codes == (Code.FEVER,)
    assert verdict.notes == ()


# --- overrides and code order ----------------------------------------------------------------


def test_override_allows_a_quota_refusal_keeps_its_codes_and_advances_the_state() -> None:
    state = household(exits=(NOW - timedelta(days=1),))
    verdict = crossing(state=state, override=OVERRIDE)

    assert verdict.allowed
    assert verdict.code is Code.QUOTA
    assert verdict.codes == (Code.QUOTA,)
    assert verdict.notes == (Code.OVERRIDE,)
    assert verdict.override == OVERRIDE
    assert verdict.display == "allow"
    assert verdict.state_after is not None
    assert verdict.state_after.out_since == (NOW,)
    assert verdict.state_after.exits == (NOW - timedelta(days=1), NOW)


def test_override_on_an_allowed_crossing_is_not_recorded() -> None:
    verdict = crossing(override=OVERRIDE)
    assert verdict.allowed
    assert verdict.notes == ()
    assert verdict.override is None


def test_all_failing_codes_are_collected_in_the_documented_order() -> None:
    rules = RuleSet(exit_hours=ExitHours(time(6, 0), time(20, 0)))
    state = household(
        status=HouseholdStatus.QUARANTINED,
        quarantine_until=None,
        out_since=(local(2026, 11, 22, 12, 0, 0),),
        exits=(local(2026, 11, 22, 12, 0, 0),),
    )

    verdict = crossing(state=state, rules=rules, temperature=380, now=local(2026, 11, 22, 22, 0, 0))

    assert verdict.code is Code.FEVER
    assert verdict.codes == (
        Code.FEVER,
        Code.QUARANTINED,
        Code.OUTSIDE_HOURS,
        Code.ALREADY_OUT,
        Code.QUOTA,
    )
    assert verdict.state_after == state


def test_remeasure_code_blocks_an_override_of_every_other_code() -> None:
    state = household(status=HouseholdStatus.QUARANTINED, out_since=(EARLIER,))
    verdict = crossing(state=state, temperature=None, override=OVERRIDE)
    assert not verdict.allowed
    assert verdict.codes == (Code.NO_TEMPERATURE, Code.QUARANTINED, Code.ALREADY_OUT)
    assert verdict.display == "remeasure"
    assert verdict.state_after == state


def test_override_needs_a_supervisor_and_a_reason() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - Override documents ValueError only
        Override(" ", "reason")
    with pytest.raises(ValueError):  # noqa: PT011
        Override("王主任", "")


def test_quota_of_two_exits_per_window_refuses_the_third() -> None:
    rules = RuleSet(quota=Quota(exits=2), max_out_at_once=9)
    state = household()
    for i in range(2):
        verdict = crossing(state=state, rules=rules, now=NOW + i * ONE_SECOND)
        assert verdict.allowed
        state = verdict.state_after
    third = crossing(state=state, rules=rules, now=NOW + 2 * ONE_SECOND)
    assert third.codes == (Code.QUOTA,)


# --- pass-level refusals that need the household record --------------------------------------


def _decide(text: str, **kwargs: object):
    arguments = {
        "keys": default_keyset(),
        "community_id": COMMUNITY,
        "household": household(),
        "revoked_pass_ids": frozenset(),
        "rules": RuleSet(),
        "direction": Direction.OUT,
        "temperature": 365,
        "now": NOW,
        "override": OVERRIDE,
        **kwargs,
    }
    return decide(text, **arguments)


@pytest.mark.parametrize(
    ("text", "kwargs", "code"),
    [
        (signed_text(), {"revoked_pass_ids": frozenset({pass_fields().pass_id})}, Code.REVOKED),
        (signed_text(generation=1), {"household": household(generation=2)}, Code.SUPERSEDED),
        (signed_text(generation=3), {"household": household(generation=2)}, Code.SUPERSEDED),
        (signed_text(), {"household": None}, Code.UNKNOWN_HOUSEHOLD),
        (signed_text(household_id=HOUSEHOLD + 1), {}, Code.UNKNOWN_HOUSEHOLD),
        (signed_text(community_id=COMMUNITY + 1), {}, Code.WRONG_COMMUNITY),
    ],
)
def test_pass_level_refusal_is_final_and_cannot_be_overridden(
    text: str, kwargs: dict[str, object], code: Code
) -> None:
    verdict = _decide(text, **kwargs)
    assert not verdict.allowed
    assert verdict.codes == (code,)
    assert verdict.notes == ()
    assert verdict.override is None
    assert verdict.next_exit_at is None
    assert verdict.state_after == kwargs.get("household", household())


def test_revocation_is_checked_before_the_household_record() -> None:
    verdict = _decide(
        signed_text(),
        household=household(generation=5),
        revoked_pass_ids=frozenset({pass_fields().pass_id}),
    )
    assert verdict.codes == (Code.REVOKED,)


def test_decide_accepts_an_earlier_verification_result() -> None:
    check = verify_pass(signed_text(), default_keyset(), community_id=COMMUNITY, now=NOW)
    verdict = _decide(check, override=None)
    assert verdict.allowed
    assert verdict.household_id == HOUSEHOLD
    assert verdict.pass_id == pass_fields().pass_id
    assert verdict.rule_version == 1
