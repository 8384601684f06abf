"""How the decider corpus writes Python inputs and verdicts as JSON (tests/js/generate_corpus.py).

Every verdict is written in the form the JavaScript decider returns
(gate/static/js/checkpoint/decide.js): the wire verdict (passes.wire.Verdict) and the rest of
passes.Verdict (direction, household_id, pass_id as hex, temperature_tenths, state_after,
override, timezone).
"""

from __future__ import annotations

import math
from typing import Any

from passes import Verdict, format_utc, wire
from scanner.deciding import Decision

DECISION_KEYS = (
    "allowed",
    "display",
    "code",
    "codes",
    "notes",
    "reason_zh",
    "reason_en",
    "next_exit_at",
    "rule_version",
    "household_id",
    "household_label",
    "degraded",
    "state_after",
    "timezone",
)
"""The fields of an offline scanner Decision that the corpus compares (the rest are the scan's
own: its id, time, online error)."""


def temperature_json(value: object) -> object:
    """A temperature reading as the corpus carries it: JSON where JSON can say it, else a
    tagged number (``{"$number": "NaN"}``) that the runner turns back into a JS number."""
    if isinstance(value, float) and not math.isfinite(value):
        return {
            "$number": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        }
    if isinstance(value, float) and value.is_integer():
        raise ValueError("JavaScript cannot tell an integral float from an integer")
    return value


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """``verdict`` as the JavaScript decide() returns it."""
    wire_verdict = wire.Verdict(
        allowed=verdict.allowed,
        display=verdict.display,
        code=None if verdict.code is None else str(verdict.code),
        codes=tuple(str(code) for code in verdict.codes),
        notes=tuple(str(note) for note in verdict.notes),
        reason_zh=verdict.reason("zh"),
        reason_en=verdict.reason("en"),
        next_exit_at=verdict.next_exit_at,
        rule_version=verdict.rule_version,
    )
    override = verdict.override
    return {
        **wire_verdict.to_json(),
        "direction": verdict.direction.value,
        "household_id": verdict.household_id,
        "pass_id": None if verdict.pass_id is None else verdict.pass_id.hex(),
        "temperature_tenths": verdict.temperature_tenths,
        "state_after": None if verdict.state_after is None else verdict.state_after.to_dict(),
        "override": None
        if override is None
        else {"supervisor": override.supervisor, "reason": override.reason},
        "timezone": verdict.timezone,
    }


def decision_json(decision: Decision) -> dict[str, Any]:
    """The compared fields of an offline scanner decision (:data:`DECISION_KEYS`)."""
    state = decision.state_after
    return {
        "allowed": decision.allowed,
        "display": decision.display,
        "code": decision.code,
        "codes": list(decision.codes),
        "notes": list(decision.notes),
        "reason_zh": decision.reason_zh,
        "reason_en": decision.reason_en,
        "next_exit_at": format_utc(decision.next_exit_at),
        "rule_version": decision.rule_version,
        "household_id": decision.household_id,
        "household_label": decision.household_label,
        "degraded": decision.degraded,
        "state_after": None if state is None else state.to_dict(),
        "timezone": decision.timezone,
    }
