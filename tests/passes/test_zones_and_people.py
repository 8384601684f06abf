"""passes: lockdown zones (封控/管控/防范) and per-person counting in decide, the state and the
rules' JSON."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from strategies import COMMUNITY, HOUSEHOLD, NOW, default_keyset, local, signed_text

from passes import (
    Code,
    CountKind,
    Direction,
    HouseholdState,
    HouseholdStatus,
    Override,
    Quota,
    RuleSet,
    RuleSetError,
    ZoneLevel,
    ZoneLock,
    ZoneScope,
    advance,
    decide,
    next_exit_at,
    rules_from_json,
    sealing_lock,
)
from passes.decision import Verdict

END = local(2026, 12, 15)  # local midnight starting 12-15: shown as "until 12-14"


def _seal(scope: ZoneScope = ZoneScope.BUILDING, **values: datetime | None) -> ZoneLock:
    return ZoneLock(
        ZoneLevel.SEALED,
        scope,
        values.get("starts_at") or NOW - timedelta(days=1),
        values.get("ends_at", END),
    )


def _decide(
    state: HouseholdState,
    rules: RuleSet | None = None,
    *,
    people: object = 1,
    override: Override | None = None,
) -> Verdict:
    return decide(
        signed_text(),
        keys=default_keyset(),
        community_id=COMMUNITY,
        household=state,
        revoked_pass_ids=frozenset(),
        rules=rules or RuleSet(),
        direction=Direction.OUT,
        temperature=365,
        now=NOW,
        override=override,
        people=people,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("status", list(HouseholdStatus))
def test_a_sealed_zone_refuses_every_status_first_with_its_last_day(
    status: HouseholdStatus,
) -> None:
    quarantine = END - timedelta(days=2) if status is HouseholdStatus.QUARANTINED else None
    state = HouseholdState(HOUSEHOLD, status=status, quarantine_until=quarantine, zones=(_seal(),))
    verdict = _decide(state)
    assert verdict.code is Code.ZONE_SEALED_BUILDING
    assert verdict.reason() == "所在楼栋封控中，不得外出（至 12-14）"
    assert verdict.next_exit_at == END


def test_a_supervisor_override_lets_a_sealed_household_out() -> None:
    verdict = _decide(
        HouseholdState(HOUSEHOLD, zones=(_seal(),)), override=Override("李队长", "送医")
    )
    assert verdict.allowed
    assert Code.OVERRIDE in verdict.notes
    assert verdict.codes[0] is Code.ZONE_SEALED_BUILDING


def test_the_seal_that_ends_last_decides_then_the_widest() -> None:
    building, grid = _seal(), _seal(ZoneScope.GRID, ends_at=END + timedelta(days=2))
    assert sealing_lock((building, grid), NOW) == grid
    compound = _seal(ZoneScope.COMPOUND)
    assert sealing_lock((building, compound), NOW) == compound
    open_grid = _seal(ZoneScope.GRID, ends_at=None)
    assert sealing_lock((building, open_grid), NOW) == open_grid


def test_controlled_and_precaution_levels_change_nothing() -> None:
    for level in (ZoneLevel.CONTROLLED, ZoneLevel.PRECAUTION):
        lock = ZoneLock(level, ZoneScope.GRID, NOW - timedelta(days=1), None)
        assert _decide(HouseholdState(HOUSEHOLD, zones=(lock,))).allowed


def test_next_exit_steps_over_back_to_back_seals() -> None:
    first = _seal(ends_at=END)
    second = _seal(ZoneScope.GRID, starts_at=END, ends_at=END + timedelta(days=3))
    state = HouseholdState(HOUSEHOLD, zones=(first, second))
    assert next_exit_at(state, RuleSet(), NOW) == END + timedelta(days=3)
    assert (
        next_exit_at(HouseholdState(HOUSEHOLD, zones=(_seal(ends_at=None),)), RuleSet(), NOW)
        is None
    )


def test_a_lock_must_end_after_it_starts_and_reads_back_strictly() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        ZoneLock(ZoneLevel.SEALED, ZoneScope.BUILDING, NOW, NOW)
    state = HouseholdState(HOUSEHOLD, zones=(_seal(),))
    assert HouseholdState.from_dict(state.to_dict()) == state
    assert "zones" not in HouseholdState(HOUSEHOLD).to_dict()
    bad = state.to_dict() | {"zones": [{"level": "sealed"}]}
    with pytest.raises(ValueError, match="zone lock"):
        HouseholdState.from_dict(bad)


def test_counting_people_moves_and_counts_the_group() -> None:
    rules = RuleSet(quota=Quota(exits=3, length=1), max_out_at_once=3, count=CountKind.PEOPLE)
    out = _decide(HouseholdState(HOUSEHOLD), rules, people=2)
    assert out.allowed
    assert out.state_after is not None
    assert len(out.state_after.out_since) == 2
    again = _decide(out.state_after, rules, people=2)
    assert again.codes == (Code.ALREADY_OUT, Code.QUOTA)
    home = advance(out.state_after, Direction.IN, True, NOW, rules, 5)
    assert home.out_since == ()


def test_counting_households_ignores_the_group_size() -> None:
    out = _decide(HouseholdState(HOUSEHOLD), RuleSet(), people=4)
    assert out.allowed
    assert out.state_after is not None
    assert len(out.state_after.exits) == 1


def test_a_group_larger_than_the_quota_never_fits() -> None:
    rules = RuleSet(quota=Quota(exits=2, length=1), max_out_at_once=9, count=CountKind.PEOPLE)
    verdict = _decide(HouseholdState(HOUSEHOLD), rules, people=3)
    assert verdict.code is Code.QUOTA
    assert verdict.next_exit_at is None


@pytest.mark.parametrize("people", [0, 21, True, 1.0, "2"])
def test_people_out_of_range_is_refused(people: object) -> None:
    with pytest.raises(ValueError, match="people must be"):
        _decide(HouseholdState(HOUSEHOLD), people=people)


def test_the_count_option_is_in_the_json_only_when_it_counts_people() -> None:
    assert "count" not in RuleSet().to_dict()
    rules = RuleSet(count=CountKind.PEOPLE)
    assert rules_from_json(rules.to_json()) == rules
    with pytest.raises(RuleSetError) as error:
        rules_from_json('{"version": 1, "count": "persons"}')
    assert (error.value.field, error.value.problem) == ("count", "bad_choice")
