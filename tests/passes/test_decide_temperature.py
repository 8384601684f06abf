"""Temperature: fever refuses in both directions; implausible or malformed readings never pass."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from strategies import NOW, crossing, household

from passes import Code, Direction, Override, RuleSet, TemperatureRules

OVERRIDE = Override("王主任", "resident known to staff")
SOMEONE_OUT = household(out_since=(NOW.replace(hour=0),))
NOT_REQUIRED = RuleSet(temperature=TemperatureRules(required=False))


@pytest.mark.parametrize("direction", [Direction.OUT, Direction.IN])
def test_every_plausible_reading_refuses_with_fever_iff_at_or_above_37_3(
    direction: Direction,
) -> None:
    state = household() if direction is Direction.OUT else SOMEONE_OUT
    for tenths in range(340, 431):
        verdict = crossing(direction=direction, state=state, temperature=tenths)
        fever = tenths >= 373
        assert verdict.allowed is not fever, tenths
        assert verdict.codes == ((Code.FEVER,) if fever else ()), tenths
        assert verdict.temperature_tenths == tenths
        assert verdict.display == ("refuse" if fever else "allow")


@pytest.mark.parametrize("tenths", [339, 431, 0, -1, -365, 986, 1000, 2**63])
@pytest.mark.parametrize("direction", [Direction.OUT, Direction.IN])
def test_reading_outside_34_to_43_degrees_is_a_sensor_error(
    tenths: int, direction: Direction
) -> None:
    verdict = crossing(direction=direction, state=SOMEONE_OUT, temperature=tenths)
    assert not verdict.allowed
    assert verdict.code is Code.SENSOR_ERROR
    assert verdict.display == "remeasure"


MALFORMED = [
    math.nan,
    -math.nan,
    math.inf,
    36.5,
    365.0,
    37.0,
    "37,5",
    "365",
    "36.5",
    "",
    True,
    False,
    b"365",
    Decimal(365),
    Fraction(365),
    [365],
    (365,),
    {"tenths": 365},
    complex(365, 0),
    object(),
]


@pytest.mark.parametrize(
    "reading", MALFORMED, ids=lambda r: "object()" if type(r) is object else repr(r)
)  # the same ids in every process (pytest-xdist): object()'s repr holds its address
@pytest.mark.parametrize("direction", [Direction.OUT, Direction.IN])
@pytest.mark.parametrize("override", [None, OVERRIDE], ids=["plain", "override"])
@pytest.mark.parametrize("rules", [RuleSet(), NOT_REQUIRED], ids=["required", "optional"])
def test_malformed_reading_is_a_sensor_error_and_never_allowed(
    reading: object, direction: Direction, override: Override | None, rules: RuleSet
) -> None:
    verdict = crossing(
        direction=direction,
        state=SOMEONE_OUT,
        temperature=reading,
        override=override,
        rules=rules,
    )
    assert not verdict.allowed
    assert verdict.code is Code.SENSOR_ERROR
    assert Code.OVERRIDE not in verdict.notes
    assert verdict.override is None
    assert verdict.state_after == SOMEONE_OUT


@pytest.mark.parametrize("reading", [339, 431, 986])
def test_implausible_reading_is_never_overridden(reading: int) -> None:
    verdict = crossing(temperature=reading, override=OVERRIDE)
    assert not verdict.allowed
    assert verdict.codes == (Code.SENSOR_ERROR,)


@pytest.mark.parametrize("direction", [Direction.OUT, Direction.IN])
def test_missing_reading_is_refused_with_no_temperature_when_required(direction: Direction) -> None:
    state = household() if direction is Direction.OUT else SOMEONE_OUT
    verdict = crossing(direction=direction, state=state, temperature=None, override=OVERRIDE)
    assert not verdict.allowed
    assert verdict.codes == (Code.NO_TEMPERATURE,)
    assert verdict.display == "remeasure"


@pytest.mark.parametrize("direction", [Direction.OUT, Direction.IN])
def test_missing_reading_passes_when_not_required(direction: Direction) -> None:
    state = household() if direction is Direction.OUT else SOMEONE_OUT
    verdict = crossing(direction=direction, state=state, temperature=None, rules=NOT_REQUIRED)
    assert verdict.allowed
    assert verdict.codes == ()
    assert verdict.temperature_tenths is None


def test_fever_when_not_required_is_still_refused() -> None:
    verdict = crossing(temperature=380, rules=NOT_REQUIRED)
    assert verdict.codes == (Code.FEVER,)


def test_fever_on_entry_can_be_overridden_and_is_recorded_as_override() -> None:
    verdict = crossing(
        direction=Direction.IN, state=SOMEONE_OUT, temperature=385, override=OVERRIDE
    )
    assert verdict.allowed
    assert verdict.code is Code.FEVER
    assert verdict.codes == (Code.FEVER,)
    assert Code.OVERRIDE in verdict.notes
    assert verdict.override == OVERRIDE
    assert verdict.state_after is not None
    assert verdict.state_after.out_since == ()


def test_custom_fever_threshold_is_applied() -> None:
    rules = RuleSet(temperature=TemperatureRules(fever_threshold_tenths=375))
    assert crossing(temperature=374, rules=rules).allowed
    assert crossing(temperature=375, rules=rules).codes == (Code.FEVER,)
