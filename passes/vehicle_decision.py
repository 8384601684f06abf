"""Decisions for cars: a vehicle pass scanned (and the plate typed, if it was), or a plate
typed at the gate's keypad alone.

Pure, like :func:`passes.decide`, and answering with the same :class:`passes.Verdict` (no
temperature: the people in a car cross on their own passes), inside a
:class:`VehicleDecision` that adds the plate to log.

Vehicle pass, order of evaluation (documented contract):

1. Validity (:func:`passes.vehicle_pass.verify_vehicle_pass`): ``bad_format``,
   ``unknown_key``, ``bad_signature``, ``key_revoked``, ``key_not_valid``,
   ``wrong_community``, ``not_yet_valid``, ``expired``; then ``revoked`` (the pass id is in
   the revoked list) and ``unknown_household`` (no state for the pass's household).
2. The typed plate, when one was typed: ``plate_invalid`` (no plate), ``plate_mismatch``
   (another plate than the pass's). Steps 1-2 stop at the first failure.
3. The household, exits only: ``exits_closed`` (全封闭, exempt households excepted) and
   ``quarantined`` (a quarantined household's car does not go out), as :func:`passes.decide`
   says them for the household. Quota, hours and people out are the people's: they scan
   their own passes.

An allowed crossing carries the note ``vehicle_pass``. The household's state is not moved.

A plate alone (no pass): ``plate_invalid`` if it is no plate. Exits are let through (a car
inside must be able to leave). Entries follow ``rules.vehicles``: none set, the plate is
let in and logged (``plate_registered``); a local plate (one of ``local_prefixes``) is let
in (``plate_registered``) or refused (``vehicle_pass_required``) per ``local``; any other
plate is let in as ``outside_plate_registered`` (登记放行) or refused as ``outside_plate``
per ``outside``. Refusals here are the community's rule: no override.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime

from passes.codes import Code
from passes.decision import Verdict
from passes.keys import KeySet
from passes.plates import Plate, PlateError, parse_plate
from passes.rules import LocalPlates, OutsidePlates, RuleSet
from passes.state import Direction, HouseholdState, HouseholdStatus
from passes.vehicle_pass import (
    VehiclePass,
    VehiclePassCheck,
    VehiclePassRejected,
    verify_vehicle_pass,
)


@dataclass(frozen=True)
class VehicleDecision:
    """A car's verdict and what to log with it: ``plate`` (normalised; None when neither a
    valid typed plate nor a verified pass gave one), ``outside`` (True: an outside plate
    under the rule's prefixes; None when no rule or no plate says) and the pass's facts."""

    verdict: Verdict
    plate: str | None
    outside: bool | None
    vehicle_pass: VehiclePass | None


def decide_vehicle(
    presented: str | VehiclePassCheck,
    *,
    typed_plate: str | None,
    keys: KeySet,
    community_id: int,
    household: HouseholdState | None,
    revoked_pass_ids: Container[bytes],
    rules: RuleSet,
    direction: Direction,
    now: datetime,
) -> VehicleDecision:
    """Decide one car crossing with a vehicle pass (see the module doc). Pure.

    ``presented``: the scanned text, or an earlier :func:`verify_vehicle_pass` result.
    ``household``: the state of the pass's household (None if unknown). ``typed_plate``:
    what the volunteer typed, or None.
    """
    check = (
        verify_vehicle_pass(presented, keys, community_id=community_id, now=now)
        if isinstance(presented, str)
        else presented
    )
    fields = check.fields
    typed = _plate_or_none(typed_plate)
    codes: list[Code] = []
    next_exit = None
    if isinstance(check, VehiclePassRejected):
        codes.append(check.code)
    elif (fields := check.fields).pass_id in revoked_pass_ids:
        codes.append(Code.REVOKED)
    elif household is None or household.household_id != fields.household_id:
        codes.append(Code.UNKNOWN_HOUSEHOLD)
    elif typed_plate is not None and typed is None:
        codes.append(Code.PLATE_INVALID)
    elif typed is not None and typed.text != fields.plate:
        codes.append(Code.PLATE_MISMATCH)
    elif direction is Direction.OUT:
        if rules.closed and household.status is not HouseholdStatus.EXEMPT:
            codes.append(Code.EXITS_CLOSED)
        if household.is_quarantined(now):
            codes.append(Code.QUARANTINED)
            next_exit = household.quarantine_until
    allowed = not codes
    # The car at the gate is the typed plate's; the pass's plate only when none was typed.
    plate = typed.text if typed is not None else (fields.plate if fields is not None else None)
    matched = (
        household
        if fields is not None
        and household is not None
        and household.household_id == fields.household_id
        else None
    )
    verdict = _verdict(
        allowed=allowed,
        codes=codes,
        notes=(Code.VEHICLE_PASS,) if allowed else (),
        rules=rules,
        direction=direction,
        household=matched,
        fields=fields,
        next_exit=next_exit,
    )
    return VehicleDecision(verdict, plate, _outside(plate, rules), fields)


def decide_plate(*, plate: str, rules: RuleSet, direction: Direction) -> VehicleDecision:
    """Decide one car by the plate typed at the gate, without a vehicle pass (see the
    module doc). Pure."""
    checked = _plate_or_none(plate)
    if checked is None:
        verdict = _verdict(
            allowed=False,
            codes=[Code.PLATE_INVALID],
            notes=(),
            rules=rules,
            direction=direction,
            household=None,
            fields=None,
            next_exit=None,
        )
        return VehicleDecision(verdict, None, None, None)
    outside = _outside(checked.text, rules)
    vehicles = rules.vehicles
    code: Code | None = None
    if direction is Direction.IN and vehicles is not None:
        if outside and vehicles.outside is OutsidePlates.REFUSE:
            code = Code.OUTSIDE_PLATE
        elif not outside and vehicles.local is LocalPlates.REFUSE:
            code = Code.VEHICLE_PASS_REQUIRED
    note = Code.OUTSIDE_PLATE_REGISTERED if outside else Code.PLATE_REGISTERED
    verdict = _verdict(
        allowed=code is None,
        codes=[] if code is None else [code],
        notes=(note,) if code is None else (),
        rules=rules,
        direction=direction,
        household=None,
        fields=None,
        next_exit=None,
    )
    return VehicleDecision(verdict, checked.text, outside, None)


def _plate_or_none(text: str | None) -> Plate | None:
    if text is None:
        return None
    try:
        return parse_plate(text)
    except PlateError:
        return None


def _outside(plate: str | None, rules: RuleSet) -> bool | None:
    if plate is None or rules.vehicles is None:
        return None
    return not any(plate.startswith(prefix) for prefix in rules.vehicles.local_prefixes)


def _verdict(
    *,
    allowed: bool,
    codes: list[Code],
    notes: tuple[Code, ...],
    rules: RuleSet,
    direction: Direction,
    household: HouseholdState | None,
    fields: VehiclePass | None,
    next_exit: datetime | None,
) -> Verdict:
    return Verdict(
        allowed=allowed,
        direction=direction,
        code=codes[0] if codes else None,
        codes=tuple(codes),
        notes=notes,
        rule_version=rules.version,
        next_exit_at=next_exit,
        household_id=fields.household_id if fields is not None else None,
        pass_id=fields.pass_id if fields is not None else None,
        temperature_tenths=None,
        state_after=household,
        override=None,
        timezone=rules.timezone,
    )
