"""Vehicle passes: issuing one for a registered car, revoking it, and its text and card.

A car has at most one pass in force: issuing another (a lost card) revokes the earlier one.
The pass is signed with the community's active key (:mod:`passes.vehicle_pass`); its text
is re-signed when printed (Ed25519 signatures are deterministic). Revoked passes still
within their validity travel in the bundle's revoked list (:func:`revoked_vehicle_pass_ids`).

Audited: ``vehicle_pass.issue``, ``vehicle_pass.revoke``, ``vehicle_pass.print``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Community
from gate.households.models import Household
from gate.signing.models import SigningKeyRecord
from gate.signing.operations import SigningKeyUnavailable, active_signing_key, load_private_key
from gate.vehicles.errors import VehicleError
from gate.vehicles.models import Vehicle, VehiclePassRecord
from gate.vehicles.printing import WindscreenCard, render_windscreen_pdf, render_windscreen_png
from gate.vehicles.registry import find_vehicle
from passes import new_pass_id
from passes.vehicle_pass import (
    MAX_VEHICLE_VALIDITY,
    VehiclePass,
    sign_vehicle_pass,
    vehicle_pass_for,
)

DEFAULT_VALID_DAYS = 90
SHORT_ID_LENGTH = 8


@dataclass(frozen=True)
class IssuedVehiclePass:
    """A pass just issued: its row, its text (for the QR) and its car."""

    record: VehiclePassRecord
    text: str
    vehicle: Vehicle


def short_id(pass_id: bytes) -> str:
    """What a clerk reads on the card: the first 8 hex digits, upper case."""
    return pass_id.hex()[:SHORT_ID_LENGTH].upper()


def issue_vehicle_pass(
    session: Session,
    *,
    community_id: int,
    plate: str,
    valid_days: int = DEFAULT_VALID_DAYS,
    actor: str,
    now: datetime,
) -> IssuedVehiclePass:
    """Issue a pass for the registered car ``plate``, valid ``valid_days`` from ``now``;
    revokes its earlier pass in force. Raises :class:`VehicleError`. Audited as
    ``vehicle_pass.issue``."""
    if not 1 <= valid_days <= MAX_VEHICLE_VALIDITY.days:
        raise VehicleError("bad_validity", max_days=MAX_VEHICLE_VALIDITY.days)
    vehicle = find_vehicle(session, community_id, plate)
    try:
        key = active_signing_key(session, community_id)
    except SigningKeyUnavailable as exc:
        raise VehicleError(exc.code, **exc.params) from None
    fields = vehicle_pass_for(
        key_id=key.entry.key_id,
        pass_id=new_pass_id(),
        community_id=community_id,
        household_id=vehicle.household_id,
        issued_at=now,
        valid_for=timedelta(days=valid_days),
        plate=vehicle.plate,
    )
    for earlier in _in_force(session, vehicle.id):
        earlier.revoked_at = now
        earlier.revoked_by = actor[:64]
        earlier.revoke_reason = "reissued"
    record = VehiclePassRecord(
        pass_id=fields.pass_id,
        community_id=community_id,
        vehicle_id=vehicle.id,
        household_id=vehicle.household_id,
        key_id=fields.key_id,
        plate=vehicle.plate,
        issued_at=fields.issued_at,
        valid_until=fields.valid_until,
        issued_by=actor[:64],
    )
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="vehicle_pass.issue",
        community_id=community_id,
        subject_type="vehicle_pass",
        subject_id=short_id(fields.pass_id),
        details={"plate": vehicle.plate, "valid_until": fields.valid_until.isoformat()},
    )
    return IssuedVehiclePass(record, sign_vehicle_pass(key, fields), vehicle)


def revoke_vehicle_pass(
    session: Session, *, community_id: int, plate: str, reason: str, actor: str, now: datetime
) -> VehiclePassRecord:
    """Revoke the pass in force of car ``plate`` from ``now`` on (at once online; offline
    once a gate's bundle is refreshed). Audited as ``vehicle_pass.revoke``."""
    if not reason.strip():
        raise VehicleError("reason_required")
    vehicle = find_vehicle(session, community_id, plate)
    records = _in_force(session, vehicle.id)
    if not records:
        raise VehicleError("no_pass_in_force", plate=vehicle.plate)
    for record in records:
        record.revoked_at = now
        record.revoked_by = actor[:64]
        record.revoke_reason = reason.strip()
        record_event(
            session,
            actor=actor,
            action="vehicle_pass.revoke",
            community_id=community_id,
            subject_type="vehicle_pass",
            subject_id=short_id(record.pass_id),
            reason=reason.strip(),
            details={"plate": vehicle.plate},
        )
    session.flush()
    return records[-1]


def pass_in_force(session: Session, community_id: int, plate: str) -> VehiclePassRecord:
    """The pass in force of car ``plate``; :class:`VehicleError` when it has none."""
    vehicle = find_vehicle(session, community_id, plate)
    records = _in_force(session, vehicle.id)
    if not records:
        raise VehicleError("no_pass_in_force", plate=vehicle.plate)
    return records[-1]


def _in_force(session: Session, vehicle_id: int) -> list[VehiclePassRecord]:
    return list(
        session.scalars(
            select(VehiclePassRecord)
            .where(
                VehiclePassRecord.vehicle_id == vehicle_id,
                VehiclePassRecord.revoked_at.is_(None),
            )
            .order_by(VehiclePassRecord.id)
        )
    )


def vehicle_pass_fields(record: VehiclePassRecord) -> VehiclePass:
    """The signed facts of a stored pass (what its QR carries)."""
    return VehiclePass(
        key_id=record.key_id,
        pass_id=record.pass_id,
        community_id=record.community_id,
        household_id=record.household_id,
        issued_at=record.issued_at,
        valid_until=record.valid_until,
        plate=record.plate,
    )


def vehicle_pass_text(session: Session, record: VehiclePassRecord) -> str:
    """The exact text of ``record``'s QR, re-signed; :class:`VehicleError` when its key
    cannot sign here."""
    key_record = session.get(SigningKeyRecord, record.key_id)
    if key_record is None:
        raise VehicleError("key_not_registered", key_id=record.key_id)
    try:
        key = load_private_key(key_record)
    except SigningKeyUnavailable as exc:
        raise VehicleError(exc.code, **exc.params) from None
    return sign_vehicle_pass(key, vehicle_pass_fields(record))


def windscreen_card(session: Session, record: VehiclePassRecord) -> WindscreenCard:
    """What ``record``'s windscreen card shows (dates local to the community)."""
    community = session.get(Community, record.community_id)
    household = session.get(Household, record.household_id)
    if community is None or household is None:  # pragma: no cover - foreign keys
        raise LookupError(f"vehicle pass {record.id} lost its community or household")
    zone = ZoneInfo(community.timezone)
    return WindscreenCard(
        pass_text=vehicle_pass_text(session, record),
        plate=record.plate,
        household_code=household.code,
        community_name=community.name,
        valid_from=record.issued_at.astimezone(zone).date(),
        valid_until=record.valid_until.astimezone(zone).date(),
        short_id=short_id(record.pass_id),
    )


def windscreen_file(session: Session, record: VehiclePassRecord, *, pdf: bool, actor: str) -> bytes:
    """``record``'s windscreen card as an A5 PDF (vector QR) or a PNG; records
    ``vehicle_pass.print``."""
    card = windscreen_card(session, record)
    data = render_windscreen_pdf(card) if pdf else render_windscreen_png(card)
    record_event(
        session,
        actor=actor,
        action="vehicle_pass.print",
        community_id=record.community_id,
        subject_type="vehicle_pass",
        subject_id=short_id(record.pass_id),
        details={"plate": record.plate},
    )
    session.flush()
    return data


def revoked_vehicle_pass_ids(
    session: Session, community_id: int, *, now: datetime
) -> tuple[bytes, ...]:
    """Ids of the community's revoked vehicle passes not yet expired (an expired one is
    refused by its own date), sorted: they join the bundle's revoked pass ids."""
    return tuple(
        session.scalars(
            select(VehiclePassRecord.pass_id)
            .where(
                VehiclePassRecord.community_id == community_id,
                VehiclePassRecord.revoked_at.is_not(None),
                VehiclePassRecord.valid_until >= now,
            )
            .order_by(VehiclePassRecord.pass_id)
        )
    )
