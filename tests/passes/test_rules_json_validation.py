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
from passes.rules import RULE_PROBLEMS


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


@pytest.mark.parametrize(
    ("field", "data"), BAD_INPUTS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_INPUTS)]
)
def test_every_refusal_carries_a_stable_problem_code(field: str, data: object) -> None:
    with pytest.raises(RuleSetError) as info:
        rules_from_dict(data)
    assert info.value.problem in RULE_PROBLEMS
    assert all(isinstance(value, str | int) for value in info.value.params.values())


@pytest.mark.parametrize(
    ("data", "problem", "params"),
    [
        (_with(quota={"exits": 0}), "out_of_range", {"low": 1, "high": 100}),
        (
            _with(quota={"window": "weeks"}),
            "bad_choice",
            {"choices": "calendar_days, rolling_hours"},
        ),
        (_with(timezone="Mars/Olympus_Mons"), "unknown_timezone", {"value": "Mars/Olympus_Mons"}),
        ({}, "required", {}),
        (_with(colour="red"), "unknown_field", {}),
        (_with(quota=1), "not_object", {}),
        (_with(timezone=8), "not_text", {}),
        (_with(temperature={"required": "yes"}), "not_boolean", {}),
        (_with(exit_hours={"start": "0600", "end": "20:00"}), "bad_clock", {}),
        (_with(exit_hours={"start": "06:00", "end": "06:00"}), "start_equals_end", {}),
        (_with(temperature={"fever_threshold_tenths": 440}), "fever_outside_plausible", {}),
    ],
)
def test_the_problem_code_and_its_parameters(
    data: object, problem: str, params: dict[str, object]
) -> None:
    with pytest.raises(RuleSetError) as info:
        rules_from_dict(data)
    assert (info.value.problem, info.value.params) == (problem, params)


def test_text_that_is_not_json_names_the_line_and_column() -> None:
    with pytest.raises(RuleSetError) as info:
        rules_from_json('{"version": 1,\n  "quota": }')
    assert info.value.problem == "not_json"
    assert info.value.params == {"line": 2, "column": 12}


def test_a_problem_code_outside_the_list_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown rule problem"):
        RuleSetError("quota", "wrong", "made up")
