"""The bridge between a household row and the core's ``HouseholdState`` value.

Status, quarantine end and pass generation live in their own columns (the office edits
them); people out and exits in the window live in ``state_json`` (the crossings edit
them). This module is the only place that reads or writes ``state_json``.
"""

from __future__ import annotations

import json

from gate.households.models import Household
from passes import HouseholdState


def household_state(row: Household) -> HouseholdState:
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


def store_state(row: Household, state: HouseholdState) -> None:
    """Write the crossing-driven part of ``state`` back to ``row`` (flush is the caller's)."""
    data = state.to_dict()
    row.state_json = json.dumps(
        {"out_since": data["out_since"], "exits": data["exits"]}, separators=(",", ":")
    )
    row.out_count = len(state.out_since)
