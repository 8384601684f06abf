"""Plate normalising and validation (passes/plates.py) against the shared table of plates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passes.plates import (
    PROVINCES,
    Plate,
    PlateError,
    PlateProblem,
    normalise_plate,
    parse_plate,
    plate_problem,
)

TABLE = json.loads((Path(__file__).parent / "vectors" / "plates_v1.json").read_text("utf-8"))


@pytest.mark.parametrize("case", TABLE["valid"], ids=lambda case: case["input"])
def test_valid_plate_is_normalised_and_classified(case: dict[str, str]) -> None:
    plate = parse_plate(case["input"])
    assert (plate.text, plate.kind) == (case["plate"], case["kind"])
    assert plate_problem(case["input"]) is None


@pytest.mark.parametrize("case", TABLE["invalid"], ids=lambda case: case["input"] or "empty")
def test_invalid_plate_is_refused_with_its_problem(case: dict[str, str]) -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate(case["input"])
    assert caught.value.code == PlateProblem(case["problem"])
    assert plate_problem(case["input"]) == PlateProblem(case["problem"])


def test_table_covers_new_energy_embassy_and_consulate_plates() -> None:
    kinds = {case["kind"] for case in TABLE["valid"]}
    assert {"ordinary", "new_energy", "embassy", "consulate", "police"} <= kinds
    assert any(len(case["plate"]) == 8 for case in TABLE["valid"])


def test_thirty_one_provinces() -> None:
    assert len(PROVINCES) == len(set(PROVINCES)) == 31


def test_prefix_and_local_match() -> None:
    plate = parse_plate("鲁E12345")
    assert plate.prefix == "鲁E"
    assert plate.is_local(("鲁E",))
    assert plate.is_local(("鲁",))
    assert not plate.is_local(("鲁B", "京"))
    assert Plate(text="使014578", kind="embassy").prefix == "使"


@given(st.text(max_size=40))
def test_any_text_is_either_a_plate_or_a_problem(text: str) -> None:
    problem = plate_problem(text)
    if problem is None:
        plate = parse_plate(text)
        assert parse_plate(plate.text) == plate  # normalising is idempotent on plates
        assert normalise_plate(plate.text) == plate.text
    else:
        assert isinstance(problem, PlateProblem)
