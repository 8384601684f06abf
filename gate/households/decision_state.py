"""The bridge between a household row and the core's ``HouseholdState`` value.

Status, quarantine end and pass generation live in their own columns (the office edits
them); people out and exits in the window live in ``state_json`` (the crossings edit
them). This module is the only place that reads or writes ``state_json``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Protocol

from gate.households.models import Household
from passes import HouseholdState, HouseholdStatus


class HouseholdColumns(Protocol):
    """What the state is read from: a ``Household`` row, or a Core row of its columns."""

    @property
    def id(self) -> int: ...
    @property
    def generation(self) -> int: ...
    @property
    def status(self) -> HouseholdStatus: ...
    @property
    def quarantine_until(self) -> datetime | None: ...
    @property
    def state_json(self) -> str: ...


def household_state(row: HouseholdColumns) -> HouseholdState:
    """The core's view of ``row``."""
    dynamic = json.loads(row.state_json or "{}")
    return HouseholdState.from_dict(
        {
            **dynamic,
            "household_id": row.id,
            "generation": row.generation,
            "status": row.status.value,
            "quarantine_until": None
            if row.quarantine_until is None
            else row.quarantine_until.isoformat(),
        }
    )


def state_columns(state: HouseholdState) -> dict[str, object]:
    """The crossing-driven part of ``state`` as the column values to store
    (``state_json``, ``out_count``)."""
    data = state.to_dict()
    return {
        "state_json": json.dumps(
            {"out_since": data["out_since"], "exits": data["exits"]}, separators=(",", ":")
        ),
        "out_count": len(state.out_since),
    }


def store_state(row: Household, state: HouseholdState) -> None:
    """Write the crossing-driven part of ``state`` back to ``row`` (flush is the caller's)."""
    for name, value in state_columns(state).items():
        setattr(row, name, value)
