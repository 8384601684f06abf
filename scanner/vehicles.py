"""A vehicle pass (VH1, a windscreen card) decided offline from the bundle.

The same pure decision the server makes (:func:`passes.vehicle_decision.decide_vehicle`),
with what the bundle holds: its keys, its revoked pass ids (revoked vehicle passes are among
them), the rules (全封闭, the vehicles section) and the state of the pass's household (merged
with this device's own newer state), for the quarantine and closed-exits check on the way
out. A car moves no household state: the people in it cross on their own passes. The
scanner cannot type a plate, so the pass's own plate is the car's. The journal keeps the
pass text; the server recognises the car by it on upload (``gate.vehicles.uploads``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from passes import Direction, Verdict
from passes.vehicle_decision import decide_vehicle
from passes.vehicle_pass import VerifiedVehiclePass, verify_vehicle_pass
from scanner.bundle import Bundle, LocalStates


def vehicle_verdict(
    pass_text: str,
    bundle: Bundle,
    local: LocalStates | None,
    *,
    direction: Direction,
    scanned_at: datetime,
) -> Verdict:
    """The verdict on a car shown by its vehicle pass at ``scanned_at`` (pure but for the
    journal read of the household's own state). It carries no state to store: the
    household's is not moved."""
    check = verify_vehicle_pass(
        pass_text, bundle.keys, community_id=bundle.community_id, now=scanned_at
    )
    household = None
    if isinstance(check, VerifiedVehiclePass):
        household = bundle.household(check.fields.household_id, local)
    decision = decide_vehicle(
        check,
        typed_plate=None,
        keys=bundle.keys,
        community_id=bundle.community_id,
        household=household,
        revoked_pass_ids=bundle.revoked_pass_ids,
        rules=bundle.rules,
        direction=direction,
        now=scanned_at,
    )
    return replace(decision.verdict, state_after=None)
