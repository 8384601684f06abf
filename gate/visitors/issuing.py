"""Visitor passes: the office issues, shows, lists and revokes them.

A visitor pass (:mod:`passes.visitor_pass`) is signed with the community's active key and
carries no personal data; the row keeps the visitor's name, phone (shown masked), plate,
purpose and host. Single-use passes are consumed by their first allowed entry
(:mod:`gate.visitors.scans`). Revoked, never deleted.

Audited: ``visitor_pass.issue``, ``visitor_pass.revoke``, ``visitor_pass.print``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.households.fields import mask_name
from gate.signing.models import SigningKeyRecord
from gate.signing.operations import SigningKeyUnavailable, active_signing_key, load_private_key
from gate.visitors.fields import (
    VisitorError,
    checked_host,
    checked_kind,
    checked_name,
    checked_phone,
    checked_plate,
    checked_purpose,
)
from gate.visitors.models import VISITOR_ID_BYTES, VisitorPassRecord
from passes import VisitorKind, VisitorPass, sign_visitor_pass, visitor_pass_for
from passes.visitor_pass import MAX_VISITOR_VALIDITY

SHORT_ID_LENGTH = 8


@dataclass(frozen=True)
class VisitorRequest:
    """What the office typed for a new visitor pass (checked by :func:`issue_visitor_pass`)."""

    kind: object
    name: object
    purpose: object
    valid_from: datetime
    valid_until: datetime
    single_use: bool = True
    phone: object = None
    plate: object = None
    host: object = None


@dataclass(frozen=True)
class IssuedVisitorPass:
    """A visitor pass just issued: its row and its text (for the QR)."""

    record: VisitorPassRecord
    text: str


def short_id(pass_id: bytes) -> str:
    """What a clerk reads and types for a visitor pass: its first 8 hex digits, upper case."""
    return pass_id.hex()[:SHORT_ID_LENGTH].upper()


def issue_visitor_pass(
    session: Session, *, community_id: int, request: VisitorRequest, actor: str, now: datetime
) -> IssuedVisitorPass:
    """Check ``request`` and issue a visitor pass signed with the community's active key.

    The window MUST be 0..31 days long and end after ``now``. Raises :class:`VisitorError`
    (nothing written). Audited as ``visitor_pass.issue`` (no name or phone in the event).
    """
    kind = checked_kind(request.kind)
    name = checked_name(request.name)
    purpose = checked_purpose(request.purpose, required=True)
    phone = checked_phone(request.phone)
    plate = checked_plate(request.plate)
    host = checked_host(request.host)
    start, until = request.valid_from, request.valid_until
    if not start <= until or until - start > MAX_VISITOR_VALIDITY:
        raise VisitorError("bad_window", days=MAX_VISITOR_VALIDITY.days)
    if until < now:
        raise VisitorError("window_over")
    try:
        key = active_signing_key(session, community_id)
    except SigningKeyUnavailable as exc:
        raise VisitorError(exc.code, **exc.params) from None
    fields = visitor_pass_for(
        key_id=key.entry.key_id,
        pass_id=secrets.token_bytes(VISITOR_ID_BYTES),
        community_id=community_id,
        valid_from=start,
        valid_until=until,
        single_use=request.single_use,
        kind=kind,
    )
    record = VisitorPassRecord(
        pass_id=fields.pass_id,
        community_id=community_id,
        key_id=fields.key_id,
        kind=kind.key,
        name=name,
        phone=phone,
        plate=plate,
        purpose=purpose,
        host=host,
        valid_from=fields.valid_from,
        valid_until=fields.valid_until,
        single_use=fields.single_use,
        issued_at=now,
        issued_by=actor[:64],
    )
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="visitor_pass.issue",
        community_id=community_id,
        subject_type="visitor_pass",
        subject_id=short_id(fields.pass_id),
        details={
            "kind": kind.key,
            "name": mask_name(name),
            "single_use": fields.single_use,
            "valid_from": fields.valid_from.isoformat(),
            "valid_until": fields.valid_until.isoformat(),
        },
    )
    return IssuedVisitorPass(record, sign_visitor_pass(key, fields))


def visitor_fields(record: VisitorPassRecord) -> VisitorPass:
    """The signed facts of a stored visitor pass (what its QR carries)."""
    return visitor_pass_for(
        key_id=record.key_id,
        pass_id=record.pass_id,
        community_id=record.community_id,
        valid_from=record.valid_from,
        valid_until=record.valid_until,
        single_use=record.single_use,
        kind=VisitorKind.from_key(record.kind),
    )


def visitor_pass_text(session: Session, record: VisitorPassRecord) -> str:
    """The exact text of ``record``'s QR (re-signed; Ed25519 signatures are deterministic).

    Raises :class:`VisitorError` when the key that signed it cannot sign here."""
    key_record = session.get(SigningKeyRecord, record.key_id)
    if key_record is None:
        raise VisitorError("key_not_registered", key_id=record.key_id)
    try:
        key = load_private_key(key_record)
    except SigningKeyUnavailable as exc:
        raise VisitorError(exc.code, **exc.params) from None
    return sign_visitor_pass(key, visitor_fields(record))


def shown_visitor_pass(
    session: Session, record: VisitorPassRecord, *, actor: str, medium: str
) -> str:
    """``record``'s text for printing or sending (``medium``: ``page``, ``png``), recording
    ``visitor_pass.print``."""
    text = visitor_pass_text(session, record)
    record_event(
        session,
        actor=actor,
        action="visitor_pass.print",
        community_id=record.community_id,
        subject_type="visitor_pass",
        subject_id=short_id(record.pass_id),
        details={"medium": medium},
    )
    return text


def find_visitor_pass(session: Session, community_id: int, number: str) -> VisitorPassRecord:
    """The community's visitor pass whose id starts with ``number`` (hex, at least 8 digits;
    spaces and dashes ignored). Raises :class:`VisitorError` ``no_such_pass`` or
    ``ambiguous_pass``."""
    digits = number.replace("-", "").replace(" ", "").lower()
    if len(digits) < SHORT_ID_LENGTH or any(c not in "0123456789abcdef" for c in digits):
        raise VisitorError("no_such_pass", visitor_pass=number[:32])
    found = [
        record
        for record in session.scalars(
            select(VisitorPassRecord).where(VisitorPassRecord.community_id == community_id)
        )
        if record.pass_id.hex().startswith(digits)
    ]
    if not found:
        raise VisitorError("no_such_pass", visitor_pass=number[:32])
    if len(found) > 1:
        raise VisitorError("ambiguous_pass", visitor_pass=number[:32])
    return found[0]


def visitor_pass_of(session: Session, community_id: int, row_id: int) -> VisitorPassRecord | None:
    """The community's visitor pass with row id ``row_id`` (None: no such pass here)."""
    record = session.get(VisitorPassRecord, row_id)
    return record if record is not None and record.community_id == community_id else None


def revoke_visitor_pass(
    session: Session, *, community_id: int, number: str, reason: str, actor: str, now: datetime
) -> VisitorPassRecord:
    """Revoke the visitor pass ``number`` (see :func:`find_visitor_pass`) from ``now`` on.
    Raises :class:`VisitorError`. Audited as ``visitor_pass.revoke``."""
    if not reason.strip():
        raise VisitorError("reason_required")
    record = find_visitor_pass(session, community_id, number)
    if record.revoked_at is not None:
        raise VisitorError("already_revoked", visitor_pass=short_id(record.pass_id))
    record.revoked_at = now
    record.revoked_by = actor[:64]
    record.revoke_reason = reason.strip()
    record_event(
        session,
        actor=actor,
        action="visitor_pass.revoke",
        community_id=community_id,
        subject_type="visitor_pass",
        subject_id=short_id(record.pass_id),
        reason=reason.strip(),
    )
    session.flush()
    return record


def visitor_passes(
    session: Session, community_id: int, *, limit: int = 200
) -> list[VisitorPassRecord]:
    """The community's visitor passes, newest first (at most ``limit``)."""
    return list(
        session.scalars(
            select(VisitorPassRecord)
            .where(VisitorPassRecord.community_id == community_id)
            .order_by(VisitorPassRecord.id.desc())
            .limit(limit)
        )
    )
