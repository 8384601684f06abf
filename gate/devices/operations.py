"""Scanner devices: creation with a one-time enrolment code, enrolment, tokens, revocation.

Only hashes of enrolment codes and tokens are stored: a copy of the database does not
let anyone impersonate a gate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gate.audit.operations import record_event
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


def authenticate(session: Session, token: str) -> Device:
    """The device holding ``token``; refuses unknown tokens and revoked devices."""
    if not token:
        raise DeviceError("bad_token", "missing device token")
    device = session.scalar(
        select(Device)
        .options(joinedload(Device.gate))  # callers need the gate's community: one query
        .where(Device.token_hash == _digest(token))
    )
    if device is None or not hmac.compare_digest(device.token_hash or "", _digest(token)):
        raise DeviceError("bad_token", "unknown device token: enrol the scanner again")
    if device.revoked_at is not None:
        raise DeviceError("device_revoked", "this scanner was revoked by the office")
    return device


def revoke_device(
    session: Session, device: Device, *, actor: str, reason: str, now: datetime
) -> None:
    """Revoke a device: every later call with its token is refused."""
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


CONTACT_RESOLUTION = timedelta(seconds=60)
"""``last_seen_at`` is kept to this resolution: a scan need not pay for a second commit."""


def contact_due(device: Device, *, now: datetime, backlog: int | None) -> bool:
    """Whether :func:`note_contact` is worth a write: the backlog changed, or ``last_seen_at``
    is older than :data:`CONTACT_RESOLUTION` (or in the future: a clock was set back)."""
    seen = device.last_seen_at
    if seen is None or not seen <= now < seen + CONTACT_RESOLUTION:
        return True
    return backlog is not None and backlog != device.last_backlog


def note_contact(device: Device, *, now: datetime, backlog: int | None) -> None:
    """Remember that the device called, and its reported upload backlog."""
    device.last_seen_at = now
    if backlog is not None:
        device.last_backlog = backlog
