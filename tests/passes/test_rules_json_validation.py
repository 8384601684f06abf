"""Rule JSON: valid rule sets round trip exactly; bad input names the offending field."""

from __future__ import annotations

import json
from datetime import time
from typing import Any

import pytest
from hypothesis import given
from strategies import rule_sets

from passes import (
    Code,
    ExitHours,
    PassError,
    Quota,
    RuleSet,
    RuleSetError,
    WindowKind,
    rules_from_dict,
    rules_from_json,
)


@given(rules=rule_sets())
def test_any_valid_rule_set_round_trips_through_json(rules: RuleSet) -> None:
    text = rules.to_json()

    restored = rules_from_json(text)

    assert restored == rules
    assert restored.to_json() == text
    assert rules_from_dict(json.loads(text)) == rules


def test_minimal_rule_json_gives_the_documented_defaults() -> None:
    rules = rules_from_json('{"version": 1}')
    assert rules == RuleSet()
    assert rules.quota == Quota(exits=1, window=WindowKind.CALENDAR_DAYS, length=3)
    assert rules.timezone == "Asia/Shanghai"
    assert rules.max_out_at_once == 1
    assert rules.exit_hours is None
    assert rules.temperature.fever_threshold_tenths == 373


def test_null_quota_and_exit_hours_mean_no_limit() -> None:
    rules = rules_from_dict({"version": 2, "quota": None, "exit_hours": None})
    assert rules.quota is None
    assert rules.exit_hours is None


def test_exit_hours_may_cross_midnight() -> None:
    rules = rules_from_dict({"version": 1, "exit_hours": {"start": "22:00", "end": "06:00"}})
    assert rules.exit_hours == ExitHours(time(22, 0), time(6, 0))


def _with(**changes: Any) -> dict[str, Any]:
    return {"version": 1, **changes}


BAD_INPUTS: list[tuple[str, object]] = [
    ("quota.exits", _with(quota={"exits": 0})),
    ("quota.exits", _with(quota={"exits": 101})),
    ("quota.exits", _with(quota={"exits": 1.0})),
    ("quota.exits", _with(quota={"exits": True})),
    ("quota.length", _with(quota={"length": 0})),
    ("quota.length", _with(quota={"window": "calendar_days", "length": 367})),
    ("quota.window", _with(quota={"window": "weeks"})),
    ("quota.per", _with(quota={"exits": 1, "per": 3})),
    ("quota", _with(quota=1)),
    ("colour", _with(colour="red")),
    ("version", {}),
    ("version", _with(version=0)),
    ("version", _with(version="1")),
    ("timezone", _with(timezone="Mars/Olympus_Mons")),
    ("timezone", _with(timezone="")),
    ("timezone", _with(timezone="../../etc/passwd")),
    ("timezone", _with(timezone=8)),
    ("exit_hours.start", _with(exit_hours={"start": "25:00", "end": "06:00"})),
    ("exit_hours.end", _with(exit_hours={"start": "06:00", "end": "20:60"})),
    ("exit_hours.start", _with(exit_hours={"start": "0600", "end": "20:00"})),
    ("exit_hours.start", _with(exit_hours={"start": "06:00:00", "end": "20:00"})),
    ("exit_hours.start", _with(exit_hours={"end": "20:00"})),
    ("exit_hours.end", _with(exit_hours={"start": "06:00", "end": 20})),
    ("exit_hours", _with(exit_hours={"start": "06:00", "end": "06:00"})),
    ("exit_hours.days", _with(exit_hours={"start": "06:00", "end": "20:00", "days": 5})),
    ("max_out_at_once", _with(max_out_at_once=0)),
    ("max_outside_minutes", _with(max_outside_minutes=-5)),
    ("temperature.required", _with(temperature={"required": "yes"})),
    ("temperature.fever_threshold_tenths", _with(temperature={"fever_threshold_tenths": 37.3})),
    ("temperature.fever_threshold_tenths", _with(temperature={"fever_threshold_tenths": 440})),
    ("temperature.plausible_min_tenths", _with(temperature={"plausible_min_tenths": 200})),
    ("temperature", _with(temperature=None)),
    ("(root)", []),
    ("(root)", None),
]


@pytest.mark.parametrize(
    ("field", "data"), BAD_INPUTS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_INPUTS)]
)
def test_bad_rule_input_is_refused_naming_the_field(field: str, data: object) -> None:
    with pytest.raises(RuleSetError) as info:
        rules_from_dict(data)
    assert info.value.field == field
    assert info.value.code is Code.BAD_FORMAT
    assert isinstance(info.value, PassError)
    with pytest.raises(RuleSetError) as again:
        rules_from_json(json.dumps(data))
    assert again.value.field == field


@pytest.mark.parametrize("text", ["", "{", "version: 1", "[1,", "\x00"])
def test_text_that_is_not_json_is_refused_with_a_rule_set_error(text: str) -> None:
    with pytest.raises(RuleSetError) as info:
        rules_from_json(text)
    assert info.value.field == "(json)"


@pytest.mark.parametrize(
    "zone", ["Asia", "America", "Asia/", "x" * 300], ids=["Asia", "America", "Asia-", "x300"]
)
def test_timezone_that_names_no_zone_file_is_refused_with_a_rule_set_error(zone: str) -> None:
    # "Asia" is a directory of zone files: ZoneInfo raises IsADirectoryError (an OSError),
    # and an over-long name raises OSError(ENAMETOOLONG); both must become RuleSetError.
    with pytest.raises(RuleSetError) as info:
        rules_from_dict({"version": 1, "timezone": zone})
    assert info.value.field == "timezone"
