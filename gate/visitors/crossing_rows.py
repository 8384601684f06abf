"""The crossing row of an outsider (walk-in, delivery, visitor pass), and its answer.

Outsiders' crossings go into the same log and hash chain as households' (through
:func:`gate.crossings.persistence.insert_crossing`), marked by ``subject``; no household is
attributed and no household state changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gate.community.context import CommunityContext
from gate.crossings.operations import SMALLINT_RANGE, Origin, ScanResult
from passes import Verdict

SUBJECT_VISITOR = "visitor"
SUBJECT_WALK_IN = "walk_in"
SUBJECT_DELIVERY = "delivery"
SUBJECTS = (SUBJECT_VISITOR, SUBJECT_WALK_IN, SUBJECT_DELIVERY)
"""The ``crossings.subject`` values this feature records."""


def outsider_values(
    *,
    context: CommunityContext,
    origin: Origin,
    client_id: str,
    verdict: Verdict,
    scanned_at: datetime,
    now: datetime,
    operator: str | None,
    subject: str,
    subject_id: int | None,
    plate: str | None,
    request_hash: str,
) -> dict[str, object]:
    """The columns of an outsider's crossing (the chain's are added on insert)."""
    temperature = verdict.temperature_tenths
    return {
        "client_id": client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "household_id": None,
        "pass_id": verdict.pass_id,
        "direction": verdict.direction,
        "scanned_at": scanned_at,
        "recorded_at": now,
        "temperature_tenths": temperature if temperature in SMALLINT_RANGE else None,
        "allowed": verdict.allowed,
        "code": verdict.code.value if verdict.code else None,
        "codes": " ".join(code.value for code in verdict.codes),
        "flags": " ".join(note.value for note in verdict.notes),
        "next_exit_at": None,
        "rule_version": verdict.rule_version,
        "operator": operator,
        "offline": False,
        "conflict": False,
        "rejected": False,
        "request_hash": request_hash,
        "subject": subject,
        "subject_id": subject_id,
        "plate": plate,
    }


def scan_result(row: Mapping[Any, Any], *, replay: bool, label: str | None) -> ScanResult:
    """A stored crossing row as the gate's answer builders read it."""
    return ScanResult(
        crossing_id=row["id"],
        client_id=row["client_id"],
        replay=replay,
        household_label=label,
        allowed=row["allowed"],
        code=row["code"],
        codes=row["codes"],
        flags=row["flags"],
        next_exit_at=row["next_exit_at"],
        rule_version=row["rule_version"],
        direction=row["direction"],
        scanned_at=row["scanned_at"],
        household_id=row["household_id"],
        gate_id=row["gate_id"],
        gate_seq=row["gate_seq"],
        offline=row["offline"],
        conflict=row["conflict"],
        conflict_code=row["conflict_code"],
        rejected=row["rejected"],
    )
