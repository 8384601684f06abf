"""The upload chunk keeps a household's state as ``advance`` made it instead of reading it back
from the columns it wrote: the two must be the same state, whatever the crossings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gate.crossings.upload_chunk import _Household
from gate.households.decision_state import household_state
from passes import Direction, HouseholdStatus, RuleSet, advance
from tests.passes.strategies import rule_sets

START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
NOW = START + timedelta(days=2)

crossings = st.lists(
    st.tuples(
        st.sampled_from(list(Direction)),
        st.booleans(),
        st.integers(0, 2 * 24 * 3600 * 1000),  # ms after START, out of order as uploads are
        st.integers(1, 4),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    rules=rule_sets(),
    status=st.sampled_from(list(HouseholdStatus)),
    quarantine=st.booleans(),
    steps=crossings,
)
def test_the_kept_state_is_what_its_columns_read_back_as(
    rules: RuleSet,
    status: HouseholdStatus,
    quarantine: bool,
    steps: list[tuple[Direction, bool, int, int]],
) -> None:
    household = _Household(
        id=7,
        generation=3,
        status=status,
        quarantine_until=START + timedelta(days=1) if quarantine else None,
        state_json="{}",
        zoned=False,
    )
    for direction, allowed, after_ms, people in steps:
        at = START + timedelta(milliseconds=after_ms)
        state = household.state()
        assert state == household_state(household)
        after = advance(state, direction, allowed, at, rules, people)
        if after != state:
            household.advanced(after, NOW)
        assert household.state() == household_state(household)
