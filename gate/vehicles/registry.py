"""The register of residents' cars: add a household's car by its plate, remove it, list them.

Plates are stored normalised (:func:`passes.plates.parse_plate`), so 鲁e 12345 typed at the
office and 鲁E12345 typed at the gate are one car. A plate belongs to at most one vehicle
not removed per community. Removing a car revokes its vehicle pass in force.

Audited: ``vehicle.add``, ``vehicle.remove``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.households.models import Household
from gate.households.queries import household_by_code
from gate.vehicles.errors import VehicleError
from gate.vehicles.models import Vehicle, VehiclePassRecord
from passes.plates import Plate, PlateError, parse_plate

MAX_NOTE = 64


@dataclass(frozen=True)
class VehicleRow:
    """A car as the lists show it: the row, its household's code and its pass in force."""

    vehicle: Vehicle
    household_code: str
    pass_in_force: VehiclePassRecord | None


def checked_plate(text: object) -> Plate:
    """``text`` as a plate; :class:`VehicleError` with the plate problem's code otherwise."""
    try:
        return parse_plate(str(text or ""))
    except PlateError as exc:
        raise VehicleError(exc.code.value) from None


def add_vehicle(
    session: Session,
    *,
    community_id: int,
    household_code: str,
    plate: str,
    note: str = "",
    actor: str,
    now: datetime,
) -> Vehicle:
    """Register the car ``plate`` for household ``household_code``. Raises
    :class:`VehicleError` (``no_household``, ``plate_taken``, ``bad_note``, a plate problem).
    Audited as ``vehicle.add``."""
    checked = checked_plate(plate)
    household = household_by_code(session, community_id, household_code)
    if household is None:
        raise VehicleError("no_household", code=household_code.strip())
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise VehicleError("bad_note")
    return _add(session, household, checked, note, actor=actor, now=now)


def _add(
    session: Session, household: Household, plate: Plate, note: str, *, actor: str, now: datetime
) -> Vehicle:
    holder = vehicle_by_plate(session, household.community_id, plate.text)
    if holder is not None:
        owner = session.get(Household, holder.household_id)
        raise VehicleError("plate_taken", plate=plate.text, household=owner.code if owner else "?")
    vehicle = Vehicle(
        community_id=household.community_id,
        household_id=household.id,
        plate=plate.text,
        kind=plate.kind,
        note=note,
        registered_at=now,
        registered_by=actor[:64],
    )
    session.add(vehicle)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="vehicle.add",
        community_id=household.community_id,
        subject_type="vehicle",
        subject_id=plate.text,
        details={"household": household.code},
    )
    return vehicle


def add_household_plates(
    session: Session, household: Household, plates: list[str], *, actor: str, now: datetime
) -> list[Vehicle]:
    """Register ``plates`` (already checked, e.g. by an import) for ``household``; a plate
    already this household's is skipped, one of another household raises ``plate_taken``."""
    added = []
    for text in plates:
        plate = checked_plate(text)
        holder = vehicle_by_plate(session, household.community_id, plate.text)
        if holder is not None and holder.household_id == household.id:
            continue
        added.append(_add(session, household, plate, "", actor=actor, now=now))
    return added


def remove_vehicle(
    session: Session, *, community_id: int, plate: str, reason: str, actor: str, now: datetime
) -> Vehicle:
    """Remove the car ``plate`` from the register and revoke its pass in force. Raises
    :class:`VehicleError` (``no_vehicle``, ``reason_required``). Audited as
    ``vehicle.remove``."""
    if not reason.strip():
        raise VehicleError("reason_required")
    vehicle = find_vehicle(session, community_id, plate)
    vehicle.removed_at = now
    vehicle.removed_by = actor[:64]
    for record in session.scalars(
        select(VehiclePassRecord).where(
            VehiclePassRecord.vehicle_id == vehicle.id, VehiclePassRecord.revoked_at.is_(None)
        )
    ):
        record.revoked_at = now
        record.revoked_by = actor[:64]
        record.revoke_reason = reason.strip()
    record_event(
        session,
        actor=actor,
        action="vehicle.remove",
        community_id=community_id,
        subject_type="vehicle",
        subject_id=vehicle.plate,
        reason=reason.strip(),
    )
    session.flush()
    return vehicle


def vehicle_by_plate(session: Session, community_id: int, plate: str) -> Vehicle | None:
    """The community's car ``plate`` (normalised) not removed, or None."""
    return session.scalar(
        select(Vehicle).where(
            Vehicle.community_id == community_id,
            Vehicle.plate == plate,
            Vehicle.removed_at.is_(None),
        )
    )


def find_vehicle(session: Session, community_id: int, plate: str) -> Vehicle:
    """The community's car ``plate`` (any typed form); :class:`VehicleError` otherwise."""
    checked = checked_plate(plate)
    vehicle = vehicle_by_plate(session, community_id, checked.text)
    if vehicle is None:
        raise VehicleError("no_vehicle", plate=checked.text)
    return vehicle


def vehicle_rows(
    session: Session, community_id: int, *, household_id: int | None = None
) -> list[VehicleRow]:
    """The community's cars not removed (or one household's), by household code and plate."""
    query = (
        select(Vehicle, Household.code)
        .join(Household, Household.id == Vehicle.household_id)
        .where(Vehicle.community_id == community_id, Vehicle.removed_at.is_(None))
        .order_by(Household.code, Vehicle.plate)
    )
    if household_id is not None:
        query = query.where(Vehicle.household_id == household_id)
    rows = list(session.execute(query))
    in_force = {
        record.vehicle_id: record
        for record in session.scalars(
            select(VehiclePassRecord)
            .where(
                VehiclePassRecord.community_id == community_id,
                VehiclePassRecord.revoked_at.is_(None),
            )
            .order_by(VehiclePassRecord.id)
        )
    }
    return [VehicleRow(vehicle, code, in_force.get(vehicle.id)) for vehicle, code in rows]


def vehicle_of(session: Session, community_id: int, vehicle_id: int) -> Vehicle | None:
    """The community's car with row id ``vehicle_id`` not removed (None: none here)."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.community_id != community_id or vehicle.removed_at is not None:
        return None
    return vehicle


def plate_importer(
    *, actor: str, now: datetime
) -> Callable[[Session, Household, tuple[str, ...]], object]:
    """The household import's ``on_plates`` hook: the 车牌号 column's plates become the
    household's cars (:func:`add_household_plates`; ``plate_taken`` refuses the row)."""

    def register(session: Session, household: Household, plates: tuple[str, ...]) -> object:
        return add_household_plates(session, household, list(plates), actor=actor, now=now)

    return register
