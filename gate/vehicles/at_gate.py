"""A car at the gate: its vehicle pass scanned (and the plate typed, if it was), or the plate
typed on the keypad alone. Decided by :mod:`passes.vehicle_decision` and logged.

The crossing goes into the same log and hash chain as people's (``subject='vehicle'``,
``subject_id`` the registered car when the plate is one, ``plate``); no household is
attributed and no household state changes (the people in the car cross on their own
passes). Online the server's records judge the pass: one never issued here is refused
``unknown_pass``, one revoked by the scan time ``revoked``. Idempotent on the client's UUID
like every crossing; a typed plate that is no plate is refused before anything is written.

Offline (a gate's upload, :func:`record_vehicle_upload`): the crossing is stored as the gate
decided it (``offline``), judged again at its scan time against the server's records; where
the gate let in a car the server refuses (a pass revoked or never issued) it is kept and
flagged a conflict with the server's code (it happened: nothing is rejected).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import CommunityContext
from gate.crossings.operations import (
    OfflineClaim,
    Origin,
    ScanRequest,
    ScanResult,
    find_bound,
    offline_values,
    request_hash_of,
)
from gate.crossings.persistence import crossing_id_of, insert_crossing
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.vehicles.models import VehiclePassRecord
from gate.vehicles.registry import checked_plate, vehicle_by_plate
from passes import Code, Direction, Verdict
from passes.vehicle_decision import VehicleDecision, decide_plate, decide_vehicle
from passes.vehicle_pass import (
    VehiclePassRejected,
    VerifiedVehiclePass,
    is_vehicle_pass,
    verify_vehicle_pass,
)

SUBJECT_VEHICLE = "vehicle"


@dataclass(frozen=True)
class VehicleReport:
    """A car as the gate reports it: a vehicle pass's text and/or the typed plate."""

    client_id: str
    pass_text: str | None
    plate: str | None
    direction: Direction
    scanned_at: datetime
    operator: str | None = None


@dataclass(frozen=True)
class VehicleCrossing:
    """The stored crossing, what the volunteer sees (``label``: plate and household) and
    whether the plate is an outside one (None: no rule says)."""

    crossing: ScanResult
    label: str | None
    plate: str | None


def record_vehicle_crossing(
    session: Session,
    *,
    context: CommunityContext,
    origin: Origin,
    report: VehicleReport,
    now: datetime,
    offline: OfflineClaim | None = None,
    request_hash: str | None = None,
    clock_offset_ms: int | None = None,
) -> VehicleCrossing:
    """Decide and record one car crossing at the server's ``now`` (in the caller's
    transaction). Raises :class:`gate.vehicles.errors.VehicleError` for a typed plate that
    is no plate, or when neither a pass nor a plate came (nothing written), and
    :class:`gate.crossings.operations.CrossingError` ``id_reuse``. ``offline``: the verdict
    a gate reached offline, stored as the gate's (see the module doc); ``request_hash``:
    the hash its client id is bound to (the upload's), else the report's own;
    ``clock_offset_ms``: the offline gate's clock offset, kept when it fits."""
    typed = None if report.plate in (None, "") else checked_plate(report.plate).text
    if report.pass_text is None and typed is None:
        checked_plate("")  # raises plate_empty: a car needs a pass or a plate
    if request_hash is None:
        request_hash = _request_hash(origin, report, typed)
    # Offline, the server's records are read as they stood when the car crossed.
    decided_at = now if offline is None else report.scanned_at
    if crossing_id_of(session, report.client_id) is not None:
        bound = find_bound(
            session,
            context=context,
            origin=origin,
            client_id=report.client_id,
            request_hash=request_hash,
            now=now,
        )
        return VehicleCrossing(bound, None, typed)
    if report.pass_text is not None:
        decision, vehicle_id, household_code = _decide_pass(
            session, context, report, typed, decided_at
        )
    else:
        assert typed is not None
        decision = decide_plate(plate=typed, rules=context.rules, direction=report.direction)
        registered = vehicle_by_plate(session, context.community_id, typed)
        vehicle_id = None if registered is None else registered.id
        household_code = None
    values = _values(context, origin, report, decision, vehicle_id, request_hash, now)
    if offline is not None:
        values |= offline_values(offline, decision.verdict, clock_offset_ms)
    stored = insert_crossing(session, values, None, None)
    label = " ".join(part for part in (decision.plate, household_code) if part) or None
    if decision.outside and household_code is None:
        label = f"{label} 外地车辆"
    return VehicleCrossing(_result(stored), label, decision.plate)


def _decide_pass(
    session: Session,
    context: CommunityContext,
    report: VehicleReport,
    typed: str | None,
    now: datetime,
) -> tuple[VehicleDecision, int | None, str | None]:
    check = verify_vehicle_pass(
        report.pass_text, context.keys, community_id=context.community_id, now=now
    )
    record = household = None
    if isinstance(check, VerifiedVehiclePass):
        record = session.scalar(
            select(VehiclePassRecord).where(
                VehiclePassRecord.pass_id == check.fields.pass_id,
                VehiclePassRecord.community_id == context.community_id,
            )
        )
        if record is None:
            check = VehiclePassRejected(Code.UNKNOWN_PASS, "not_issued", check.fields)
        else:
            household = session.get(Household, record.household_id)
    revoked = frozenset[bytes]()
    if record is not None and record.revoked_at is not None and record.revoked_at <= now:
        revoked = frozenset({record.pass_id})
    decision = decide_vehicle(
        check,
        typed_plate=typed,
        keys=context.keys,
        community_id=context.community_id,
        household=None if household is None else household_state(household),
        revoked_pass_ids=revoked,
        rules=context.rules,
        direction=report.direction,
        now=now,
    )
    return (
        decision,
        None if record is None else record.vehicle_id,
        None if household is None else household.code,
    )


def _values(
    context: CommunityContext,
    origin: Origin,
    report: VehicleReport,
    decision: VehicleDecision,
    vehicle_id: int | None,
    request_hash: str,
    now: datetime,
) -> dict[str, object]:
    verdict: Verdict = decision.verdict
    return {
        "client_id": report.client_id,
        "community_id": context.community_id,
        "gate_id": origin.gate_id,
        "device_id": origin.device_id,
        "user_id": origin.user_id,
        "household_id": None,
        "pass_id": verdict.pass_id,
        "direction": verdict.direction,
        "scanned_at": report.scanned_at,
        "recorded_at": now,
        "temperature_tenths": None,
        "allowed": verdict.allowed,
        "code": verdict.code.value if verdict.code else None,
        "codes": " ".join(code.value for code in verdict.codes),
        "flags": " ".join(note.value for note in verdict.notes),
        "next_exit_at": verdict.next_exit_at,
        "rule_version": verdict.rule_version,
        "operator": report.operator,
        "offline": False,
        "conflict": False,
        "rejected": False,
        "request_hash": request_hash,
        "subject": SUBJECT_VEHICLE,
        "subject_id": vehicle_id,
        "plate": decision.plate,
    }


def record_vehicle_upload(
    session: Session,
    context: CommunityContext,
    origin: Origin,
    request: ScanRequest,
    claim: OfflineClaim,
    now: datetime,
) -> ScanResult | None:
    """An uploaded offline crossing made with a vehicle pass, stored (see the module doc);
    None when its pass is not a vehicle pass (another hook, or the household path, stores
    it). The hook :class:`gate.crossings.uploads.Uploader` calls (``outsiders``)."""
    if not is_vehicle_pass(request.pass_text):
        return None
    report = VehicleReport(
        client_id=request.client_id,
        pass_text=request.pass_text,
        plate=None,
        direction=request.direction,
        scanned_at=request.scanned_at,
        operator=request.operator,
    )
    stored = record_vehicle_crossing(
        session,
        context=context,
        origin=origin,
        report=report,
        now=now,
        offline=claim,
        request_hash=request_hash_of(origin, request, claim),
        clock_offset_ms=request.clock_offset_ms,
    )
    return stored.crossing


def _result(row: dict[str, object]) -> ScanResult:
    return ScanResult(
        crossing_id=int(str(row["id"])),
        client_id=str(row["client_id"]),
        replay=False,
        household_label=None,
        allowed=bool(row["allowed"]),
        code=row["code"],  # type: ignore[arg-type]
        codes=str(row["codes"]),
        flags=str(row["flags"]),
        next_exit_at=row["next_exit_at"],  # type: ignore[arg-type]
        rule_version=int(str(row["rule_version"])),
        direction=Direction(str(row["direction"])),
        scanned_at=row["scanned_at"],  # type: ignore[arg-type]
        household_id=None,
        gate_id=int(str(row["gate_id"])),
        gate_seq=int(str(row["gate_seq"])),
        offline=bool(row["offline"]),
        conflict=bool(row["conflict"]),
        conflict_code=row["conflict_code"],  # type: ignore[arg-type]
        rejected=bool(row["rejected"]),
    )


def _request_hash(origin: Origin, report: VehicleReport, typed: str | None) -> str:
    """SHA-256 (hex) of the report a client id is bound to."""
    canonical = {
        "device": origin.device_id,
        "user": origin.user_id,
        "vehicle": [report.pass_text, typed],
        "direction": report.direction.value,
    }
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
