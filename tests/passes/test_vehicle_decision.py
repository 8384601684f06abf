"""The car decision (passes.vehicle_decision): vehicle passes, typed plates, the outside-plate
rule and the household's standing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from strategies import COMMUNITY, NOW, default_keyset
from test_vehicle_pass import PASS_ID, vehicle_text

from passes import Code, Direction, HouseholdState, HouseholdStatus, RuleSet
from passes.rules import LocalPlates, OutsidePlates, VehicleRules, rules_from_json
from passes.vehicle_decision import VehicleDecision, decide_plate, decide_vehicle

IN, OUT = Direction.IN, Direction.OUT
RULES = RuleSet(vehicles=VehicleRules(("鲁E",), LocalPlates.ALLOW, OutsidePlates.REFUSE))


def _car(
    *,
    typed: str | None = None,
    household: HouseholdState | None = None,
    revoked: frozenset[bytes] = frozenset(),
    rules: RuleSet = RULES,
    direction: Direction = IN,
    text: str | None = None,
) -> VehicleDecision:
    return decide_vehicle(
        text or vehicle_text(),
        typed_plate=typed,
        keys=default_keyset(),
        community_id=COMMUNITY,
        household=household or HouseholdState(77),
        revoked_pass_ids=revoked,
        rules=rules,
        direction=direction,
        now=NOW,
    )


def test_car_with_its_pass_is_let_through_both_ways_with_its_plate() -> None:
    for direction in (IN, OUT):
        decision = _car(direction=direction)
        assert decision.verdict.allowed
        assert decision.verdict.notes == (Code.VEHICLE_PASS,)
        assert decision.plate == "鲁E12345"
        assert decision.outside is False
        assert decision.verdict.household_id == 77
        assert decision.verdict.state_after == HouseholdState(77)  # a car moves no people


def test_typed_plate_must_match_the_pass() -> None:
    assert _car(typed="鲁e 12345").verdict.allowed
    mismatch = _car(typed="鲁E54321")
    assert mismatch.verdict.code is Code.PLATE_MISMATCH
    assert mismatch.plate == "鲁E54321"
    assert _car(typed="鲁E").verdict.code is Code.PLATE_INVALID


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"revoked": frozenset({PASS_ID})}, Code.REVOKED),
        ({"household": HouseholdState(78)}, Code.UNKNOWN_HOUSEHOLD),
        ({"text": vehicle_text(issued_at=NOW + timedelta(hours=1))}, Code.NOT_YET_VALID),
        ({"text": vehicle_text(valid_for=timedelta(hours=1))}, Code.EXPIRED),
        ({"text": "VH1:nonsense"}, Code.BAD_FORMAT),
    ],
)
def test_pass_refusals(kwargs: dict, code: Code) -> None:  # type: ignore[type-arg]
    decision = _car(**kwargs)
    assert not decision.verdict.allowed
    assert decision.verdict.codes == (code,)


def test_quarantined_households_car_may_come_in_but_not_go_out() -> None:
    until = NOW + timedelta(days=3)
    quarantined = HouseholdState(77, status=HouseholdStatus.QUARANTINED, quarantine_until=until)
    assert _car(household=quarantined, direction=IN).verdict.allowed
    out = _car(household=quarantined, direction=OUT).verdict
    assert out.code is Code.QUARANTINED
    assert out.next_exit_at == until
    assert "至" in out.reason()


def test_full_lockdown_keeps_cars_in_except_exempt_households() -> None:
    closed = RuleSet(closed=True)
    assert _car(rules=closed, direction=OUT).verdict.code is Code.EXITS_CLOSED
    exempt = HouseholdState(77, status=HouseholdStatus.EXEMPT)
    assert _car(rules=closed, direction=OUT, household=exempt).verdict.allowed


def test_outside_car_with_a_pass_is_a_residents_car() -> None:
    decision = _car(text=vehicle_text(plate="京A88888"))
    assert decision.verdict.allowed
    assert decision.outside is True


@pytest.mark.parametrize(
    ("rules", "plate", "direction", "allowed", "code"),
    [
        (RULES, "鲁E12345", IN, True, Code.PLATE_REGISTERED),
        (RULES, "京A88888", IN, False, Code.OUTSIDE_PLATE),
        (RULES, "京A88888", OUT, True, Code.OUTSIDE_PLATE_REGISTERED),
        (RuleSet(), "京A88888", IN, True, Code.PLATE_REGISTERED),
        (
            RuleSet(vehicles=VehicleRules(("鲁",), LocalPlates.REFUSE, OutsidePlates.REGISTER)),
            "鲁B12345",
            IN,
            False,
            Code.VEHICLE_PASS_REQUIRED,
        ),
        (
            RuleSet(vehicles=VehicleRules(("鲁",), LocalPlates.REFUSE, OutsidePlates.REGISTER)),
            "沪A12345",
            IN,
            True,
            Code.OUTSIDE_PLATE_REGISTERED,
        ),
        (RULES, "鲁E123", IN, False, Code.PLATE_INVALID),
    ],
)
def test_plate_without_a_pass_follows_the_rule(
    rules: RuleSet, plate: str, direction: Direction, allowed: bool, code: Code
) -> None:
    decision = decide_plate(plate=plate, rules=rules, direction=direction)
    assert decision.verdict.allowed is allowed
    assert code in (decision.verdict.notes if allowed else decision.verdict.codes)
    assert decision.verdict.household_id is None
    assert decision.verdict.reason()


def test_vehicle_rule_json_round_trips_and_is_strict() -> None:
    text = RULES.to_json()
    assert '"vehicles"' in text
    assert rules_from_json(text) == RULES
    assert '"vehicles"' not in RuleSet().to_json()  # absent unless set: old hashes unchanged
