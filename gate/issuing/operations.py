"""Issuing passes: issue, re-issue (a lost card dies), revoke, and re-create a card's text.

The pass text is not stored: Ed25519 signatures are deterministic, so signing a stored
pass's fields again gives exactly the printed text (:func:`pass_text`).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.errors import N_, CodedError
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.signing.models import SigningKeyRecord
from gate.signing.operations import (
    SIGNING_MESSAGES,
    SigningKeyUnavailable,
    active_signing_key,
    load_private_key,
)
from passes import Pass, SigningKey, new_pass_id
from passes.timefmt import format_utc
from passes.verification import MAX_PASS_VALIDITY

DEFAULT_VALID_DAYS = 30
MAX_VALID_DAYS = MAX_PASS_VALIDITY.days
"""The longest a pass is issued for: every gate refuses a pass valid for longer."""


ISSUING_MESSAGES: dict[str, str] = {
    "bad_validity": N_("A pass is valid for 1 to %(max_days)d days."),
    "reason_required": N_("A revocation needs a reason."),
    "key_not_registered": N_("Signing key %(key_id)d is not registered."),
    "nothing_to_print": N_("No household there has a valid pass; issue passes first."),
    "key_not_valid_then": N_(
        "Signing key %(key_id)d may not sign a pass issued at %(issued_at)s: it may sign from"
        " %(not_before)s until %(not_after)s. Check this server's clock."
    ),
    **SIGNING_MESSAGES,
}
"""The English message id of each :class:`IssuingError` code (parameters: its ``params``).

A signing key that cannot be used is reported with the codes of
:class:`gate.signing.operations.SigningKeyUnavailable`.
"""


class IssuingError(CodedError):
    """Issuing was refused: a stable ``code`` and the ``params`` of its message.

    Entry points show ``gettext(exc.message_id, **exc.params)`` (CLIs: Chinese first);
    ``str()`` is the English text, for logs.
    """

    messages = ISSUING_MESSAGES

    @classmethod
    def from_key_error(cls, exc: SigningKeyUnavailable) -> IssuingError:
        """The same refusal, for callers that catch only :class:`IssuingError`."""
        return cls(exc.code, **exc.params)


@dataclass(frozen=True)
class Issued:
    """A pass just issued and its text (to print or show)."""

    record: IssuedPass
    text: str


def manual_code(pass_id: bytes) -> str:
    """The short code printed on a card for typing at the gate, e.g. ``K7QM-2XPA``."""
    code = base64.b32encode(pass_id[:5]).decode("ascii")
    return f"{code[:4]}-{code[4:8]}"


def issue_pass(
    session: Session,
    household: Household,
    *,
    actor: str,
    now: datetime,
    valid_days: int = DEFAULT_VALID_DAYS,
    reissue: bool = False,
    key: SigningKey | None = None,
    reason: str | None = None,
    flush: bool = True,
    supersede: bool = True,
) -> Issued:
    """Issue a pass for ``household``.

    ``reissue=True`` bumps the household's generation first, so every earlier card
    (printed or on a phone) is refused as ``superseded``. Writes an audit event.
    ``flush=False`` leaves the new rows pending, for a caller that issues many and flushes
    once (one multi-row INSERT instead of two round trips per pass). ``supersede=False``
    (with ``reissue``): the caller already ran :func:`supersede_passes` for this household
    (bulk re-issuing: one UPDATE per batch).
    """
    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise IssuingError("bad_validity", max_days=MAX_VALID_DAYS)
    try:
        key = key or active_signing_key(session, household.community_id)
    except SigningKeyUnavailable as exc:
        raise IssuingError.from_key_error(exc) from None
    issued_at = now.replace(microsecond=0)
    if not key.entry.covers(issued_at):
        # Every gate would refuse such a card (issued outside its key's period): refuse to
        # print it rather than hand a resident a pass that never works.
        raise IssuingError(
            "key_not_valid_then",
            key_id=key.entry.key_id,
            issued_at=format_utc(issued_at) or "-",
            not_before=format_utc(key.entry.not_before) or "-",
            not_after=format_utc(key.entry.not_after) or "-",
        )
    if reissue and supersede:
        supersede_passes(session, [household])
    fields = Pass(
        key_id=key.entry.key_id,
        pass_id=new_pass_id(),
        household_id=household.id,
        community_id=household.community_id,
        generation=household.generation,
        issued_at=issued_at,
        valid_until=issued_at + timedelta(days=valid_days),
    )
    record = IssuedPass(
        pass_id=fields.pass_id,
        community_id=household.community_id,
        household_id=household.id,
        key_id=fields.key_id,
        generation=fields.generation,
        issued_at=fields.issued_at,
        valid_until=fields.valid_until,
        status=PassStatus.ACTIVE,
        manual_code=manual_code(fields.pass_id),
    )
    session.add(record)
    record_event(
        session,
        actor=actor,
        action="pass.reissue" if reissue else "pass.issue",
        community_id=household.community_id,
        subject_type="household",
        subject_id=household.code,
        reason=reason,
        details={
            "generation": fields.generation,
            "valid_days": valid_days,
            "manual_code": record.manual_code,
        },
    )
    if flush:
        session.flush()
    return Issued(record, key.sign(fields))


def supersede_passes(session: Session, households: Sequence[Household]) -> None:
    """Start a new generation for each of ``households``: their active passes become
    ``superseded`` (one UPDATE), so every earlier card is refused from now on. The new
    passes are issued by :func:`issue_pass` with ``reissue=True, supersede=False``."""
    if not households:
        return
    for household in households:
        household.generation += 1
    session.execute(
        update(IssuedPass)
        .where(
            IssuedPass.household_id.in_([h.id for h in households]),
            IssuedPass.status == PassStatus.ACTIVE,
        )
        .values(status=PassStatus.SUPERSEDED)
    )


def revoke_pass(
    session: Session, record: IssuedPass, *, actor: str, reason: str, now: datetime
) -> None:
    """Revoke one card (e.g. reported lost); it is refused as ``revoked`` from now on."""
    if not reason.strip():
        raise IssuingError("reason_required")
    record.status = PassStatus.REVOKED
    record.revoked_at = now
    record.revoked_by = actor
    record.revoke_reason = reason
    record_event(
        session,
        actor=actor,
        action="pass.revoke",
        community_id=record.community_id,
        subject_type="pass",
        subject_id=record.manual_code,
        reason=reason,
    )
    session.flush()


def current_pass(session: Session, household: Household) -> IssuedPass | None:
    """The household's newest active pass, if any."""
    return session.scalar(
        select(IssuedPass)
        .where(IssuedPass.household_id == household.id, IssuedPass.status == PassStatus.ACTIVE)
        .order_by(IssuedPass.id.desc())
        .limit(1)
    )


def pass_text(session: Session, record: IssuedPass) -> str:
    """The exact text printed on ``record``'s card (re-signed; signatures are deterministic)."""
    return signing_key_of(session, record).sign(pass_fields(record))


def signing_key_of(session: Session, record: IssuedPass) -> SigningKey:
    """The private key that signed ``record`` (read from its key file).

    Raises :class:`IssuingError` (``key_not_registered`` or a signing key code) when this
    server cannot sign with it.
    """
    key_record = session.get(SigningKeyRecord, record.key_id)
    if key_record is None:
        raise IssuingError("key_not_registered", key_id=record.key_id)
    try:
        return load_private_key(key_record)
    except SigningKeyUnavailable as exc:
        raise IssuingError.from_key_error(exc) from None


def pass_fields(record: IssuedPass) -> Pass:
    """The signed facts of a stored pass (what its QR carries)."""
    return Pass(
        key_id=record.key_id,
        pass_id=record.pass_id,
        household_id=record.household_id,
        community_id=record.community_id,
        generation=record.generation,
        issued_at=record.issued_at,
        valid_until=record.valid_until,
    )
