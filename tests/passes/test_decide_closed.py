"""全封闭 (``RuleSet.closed``): no exit for anyone but exempt households; entries go on."""

from __future__ import annotations

import pytest
from strategies import crossing, household

from passes import Code, Direction, HouseholdStatus, Override, RuleSet, rules_from_dict
from passes.rules import RuleSetError

CLOSED = RuleSet(quota=None, closed=True)


def test_an_exit_is_refused_with_exits_closed_and_its_reason() -> None:
    verdict = crossing(rules=CLOSED)
    assert not verdict.allowed
    assert verdict.codes == (Code.EXITS_CLOSED,)
    assert verdict.reason() == "全封闭管理，暂停外出"


def test_an_exempt_household_goes_out_and_everyone_comes_in() -> None:
    assert crossing(rules=CLOSED, state=household(status=HouseholdStatus.EXEMPT)).allowed
    assert crossing(rules=CLOSED, direction=Direction.IN).allowed


def test_a_supervisor_may_override_it_like_any_household_rule() -> None:
    verdict = crossing(rules=CLOSED, override=Override("王主任", "就医"))
    assert verdict.allowed
    assert verdict.notes == (Code.OVERRIDE,)


def test_the_json_carries_closed_only_when_set_and_reads_it_strictly() -> None:
    assert "closed" not in RuleSet().to_dict()  # older rules keep their canonical JSON
    assert rules_from_dict(CLOSED.to_dict()) == CLOSED
    with pytest.raises(RuleSetError, match="true or false"):
        rules_from_dict({"version": 1, "closed": "yes"})
