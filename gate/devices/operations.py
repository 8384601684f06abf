"""Scanner devices: creation with a one-time enrolment code, enrolment, tokens, revocation.

Only hashes of enrolment codes and tokens are stored: a copy of the database does not
let anyone impersonate a gate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.db import DriverStatement, UTCDateTime
from gate.devices.models import Device, Gate

ENROLMENT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: the code is read off a screen and typed at the gate."""
ENROLMENT_VALIDITY = timedelta(hours=24)


class DeviceError(Exception):
    """A device operation was refused; ``code`` is stable, the message human."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NewDevice:
    """A device just created, with its one-time enrolment code (shown once, never stored)."""

    device: Device
    enrolment_code: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_device(
    session: Session, *, gate: Gate, name: str, actor: str, now: datetime
) -> NewDevice:
    """Register a scanner for ``gate`` and return its one-time enrolment code (24 h)."""
    code = "".join(secrets.choice(ENROLMENT_ALPHABET) for _ in range(10))
    device = Device(
        gate=gate,
        name=name,
        enrollment_code_hash=_digest(code),
        enrollment_expires_at=now + ENROLMENT_VALIDITY,
        created_at=now,
    )
    session.add(device)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="device.create",
        community_id=gate.community_id,
        subject_type="device",
        subject_id=device.id,
        details={"gate": gate.code, "name": name},
    )
    return NewDevice(device, f"{code[:5]}-{code[5:]}")


def enroll(session: Session, *, code: str, now: datetime) -> tuple[Device, str]:
    """Trade a one-time enrolment code for a device token; the code dies on use."""
    normalised = code.replace("-", "").replace(" ", "").upper()
    device = session.scalar(
        select(Device).where(Device.enrollment_code_hash == _digest(normalised)).with_for_update()
    )
    if device is None or device.revoked_at is not None:
        raise DeviceError("bad_enrolment_code", "enrolment code unknown or already used")
    if device.enrollment_expires_at is None or device.enrollment_expires_at < now:
        raise DeviceError("enrolment_code_expired", "enrolment code expired: create a new one")
    token = secrets.token_urlsafe(32)
    device.token_hash = _digest(token)
    device.enrollment_code_hash = None
    device.enrollment_expires_at = None
    device.last_seen_at = now
    record_event(
        session,
        actor=f"device:{device.id}",
        action="device.enroll",
        community_id=device.gate.community_id,
        subject_type="device",
        subject_id=device.id,
    )
    return device, token


@dataclass(frozen=True)
class DeviceIdentity:
    """An authenticated device: where it stands, and its contact bookkeeping."""

    device_id: int
    gate_id: int
    community_id: int
    last_seen_at: datetime | None
    last_backlog: int | None
    created_at: datetime | None = None
    """When the office created the device: nothing it reports can have happened before."""
    latest_scanned_at: datetime | None = None
    """The latest ``scanned_at`` among its crossings so far (its clock's high-water mark)."""


_DEVICES = Device.__table__.c
_GATES = Gate.__table__.c
_AUTHENTICATE = (
    select(
        _DEVICES.id,
        _DEVICES.gate_id,
        _GATES.community_id,
        _DEVICES.token_hash,
        _DEVICES.revoked_at,
        _DEVICES.last_seen_at,
        _DEVICES.last_backlog,
        _DEVICES.created_at,
        _DEVICES.latest_scanned_at,
    )
    .join_from(Device.__table__, Gate.__table__, _DEVICES.gate_id == _GATES.id)
    .where(_DEVICES.token_hash == bindparam("token_hash"))
)
_AUTHENTICATE_ON_DRIVER = DriverStatement(_AUTHENTICATE)  # every scan: no SQLAlchemy overhead


def authenticate(session: Session, token: str) -> DeviceIdentity:
    """The device holding ``token``; refuses unknown tokens and revoked devices.

    One Core query (device joined with its gate) on the session's connection: every scan
    pays for it, so it skips the ORM.
    """
    if not token:
        raise DeviceError("bad_token", "missing device token")
    digest = _digest(token)
    row = _AUTHENTICATE_ON_DRIVER.first(session.connection(), {"token_hash": digest})
    if row is None or not hmac.compare_digest(row.token_hash or "", digest):
        raise DeviceError("bad_token", "unknown device token: enrol the scanner again")
    if row.revoked_at is not None:
        raise DeviceError("device_revoked", "this scanner was revoked by the office")
    return DeviceIdentity(
        device_id=row.id,
        gate_id=row.gate_id,
        community_id=row.community_id,
        last_seen_at=row.last_seen_at,
        last_backlog=row.last_backlog,
        created_at=row.created_at,
        latest_scanned_at=row.latest_scanned_at,
    )


def revoke_device(
    session: Session, device: Device, *, actor: str, reason: str, now: datetime
) -> bool:
    """Revoke a device: every later call with its token is refused.

    A device already revoked is left as it is (no second event): returns False.
    """
    if device.revoked_at is not None:
        return False
    device.revoked_at = now  # the token hash stays, so its calls get "device_revoked"
    device.enrollment_code_hash = None
    record_event(
        session,
        actor=actor,
        action="device.revoke",
        community_id=device.gate.community_id,
        subject_type="device",
        subject_id=device.id,
        reason=reason,
    )
    return True


CONTACT_RESOLUTION = timedelta(seconds=60)
"""``last_seen_at`` is kept to this resolution: a scan need not pay for a second commit."""


def contact_due(device: DeviceIdentity, *, now: datetime, backlog: int | None) -> bool:
    """Whether :func:`note_contact` is worth a write: the backlog changed, or ``last_seen_at``
    is older than :data:`CONTACT_RESOLUTION` (or in the future: a clock was set back)."""
    seen = device.last_seen_at
    if seen is None or not seen <= now < seen + CONTACT_RESOLUTION:
        return True
    return backlog is not None and backlog != device.last_backlog


def note_contact(
    session: Session, device: DeviceIdentity, *, now: datetime, backlog: int | None
) -> None:
    """Remember that the device called, and its reported upload backlog (flushes)."""
    values: dict[str, object] = {"last_seen_at": now}
    if backlog is not None:
        values["last_backlog"] = backlog
    session.execute(update(Device).where(Device.id == device.device_id).values(values))


def check_in(session: Session, token: str, *, now: datetime, backlog: int | None) -> DeviceIdentity:
    """Authenticate a device's call and note its contact when due: one short query, and a
    write only when :func:`contact_due`. Raises :class:`DeviceError` like
    :func:`authenticate`. Runs in the caller's transaction, so a scan checks its device,
    decides and records on one connection with one commit."""
    device = authenticate(session, token)
    if contact_due(device, now=now, backlog=backlog):
        note_contact(session, device, now=now, backlog=backlog)
    return device


_RAISE_MARK = (
    update(Device)
    .where(
        _DEVICES.id == bindparam("device"),
        (_DEVICES.latest_scanned_at.is_(None))
        | (_DEVICES.latest_scanned_at < bindparam("latest", type_=UTCDateTime())),
    )
    .values(latest_scanned_at=bindparam("latest", type_=UTCDateTime()))
)


def note_scanned(
    session: Session,
    *,
    device_id: int,
    community_id: int,
    latest: datetime | None,
    backwards: Sequence[str],
    now: datetime,
) -> None:
    """Remember the latest ``scanned_at`` a device reported (its clock's high-water mark:
    it only moves forward), and flag a device whose crossings went back in time behind it:
    ``clock_fault_at`` set and an audit event ``device.clock_backwards`` for the office
    naming the crossings (``backwards``: their client ids). Writes in the caller's
    transaction."""
    connection = session.connection()
    if latest is not None:
        connection.execute(_RAISE_MARK, {"device": device_id, "latest": latest})
    if not backwards:
        return
    connection.execute(update(Device).where(_DEVICES.id == device_id).values(clock_fault_at=now))
    record_event(
        session,
        actor=f"device:{device_id}",
        action="device.clock_backwards",
        community_id=community_id,
        subject_type="device",
        subject_id=device_id,
        details={"crossings": list(backwards[:50]), "count": len(backwards)},
    )
