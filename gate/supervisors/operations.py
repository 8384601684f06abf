"""Supervisor cards: issuing, listing and revoking them, and checking one presented at a gate.

A card (:mod:`passes.supervisor_card`) is issued to an account of the community whose role is
supervisor or admin, signed with the community's active key, and printed. At a refused
verdict the volunteer scans it: the override counts only if the card verifies (signature,
community, validity) at the scan time, the office issued it to that account, it was not
revoked by then, and the account may still override. Offline scanners check the same from
the bundle (:func:`bundle_cards`); their uploads are checked again here at the scan time.

Audited: ``supervisor_card.issue``, ``supervisor_card.revoke``, ``supervisor_card.print``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.accounts.operations import find_user
from gate.audit.operations import record_event
from gate.community.context import CommunityContext
from gate.community.models import Community
from gate.errors import N_, CodedError
from gate.signing.models import SigningKeyRecord
from gate.signing.operations import (
    SIGNING_MESSAGES,
    SigningKeyUnavailable,
    active_signing_key,
    load_private_key,
)
from gate.supervisors.models import CARD_ID_BYTES, SupervisorCardRecord
from gate.supervisors.printing import (
    SupervisorCardFace,
    render_supervisor_card_pdf,
    render_supervisor_card_png,
)
from passes import (
    CardRejected,
    CardState,
    Code,
    SupervisorCard,
    card_for,
    sign_supervisor_card,
    verify_supervisor_card,
)
from passes.supervisor_card import MAX_CARD_VALIDITY

CARD_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who may hold a supervisor card (the roles whose credential may override)."""
DEFAULT_VALID_DAYS = 180
SHORT_ID_LENGTH = 8

SUPERVISOR_CARD_MESSAGES: dict[str, str] = {
    "no_such_user": N_("There is no account %(username)s in this community."),
    "not_a_supervisor": N_(
        "The account %(username)s is not a supervisor: give it the supervisor role first."
    ),
    "user_disabled": N_("The account %(username)s is disabled."),
    "bad_validity": N_("A supervisor card is valid for 1 to %(max_days)d days."),
    "no_such_card": N_("There is no supervisor card %(card)s in this community."),
    "ambiguous_card": N_("Several cards start with %(card)s: give more of the card number."),
    "already_revoked": N_("The supervisor card %(card)s is already revoked."),
    "reason_required": N_("A revocation needs a reason."),
    "key_not_registered": N_("Signing key %(key_id)d is not registered."),
    **SIGNING_MESSAGES,
}
"""The English message id of each :class:`SupervisorCardError` code."""


class SupervisorCardError(CodedError):
    """Issuing, printing or revoking a card was refused: a stable ``code`` and its params."""

    messages = SUPERVISOR_CARD_MESSAGES


@dataclass(frozen=True)
class IssuedCard:
    """A card just issued: its row, its text (for the QR) and its holder."""

    record: SupervisorCardRecord
    text: str
    holder: User


@dataclass(frozen=True)
class CardHolder:
    """A presented card that counts: the account it names, the name to record on the
    crossing (the account's name and the card's short id) and the card's id."""

    user_id: int
    community_id: int
    name: str
    card_id: bytes


@dataclass(frozen=True)
class CardRefusal:
    """A presented card that does not count: ``code`` (a :class:`passes.Code` of
    :data:`passes.OVERRIDE_REFUSAL_CODES`) and a ``detail`` for the audit event."""

    code: Code
    detail: str
    card_id: bytes | None = None


def short_id(card_id: bytes) -> str:
    """What a clerk reads and types for a card: its first 8 hex digits, upper case."""
    return card_id.hex()[:SHORT_ID_LENGTH].upper()


def issue_supervisor_card(
    session: Session,
    *,
    community_id: int,
    username: str,
    valid_days: int = DEFAULT_VALID_DAYS,
    actor: str,
    now: datetime,
) -> IssuedCard:
    """Issue a card to the account ``username`` of ``community_id`` (supervisor or admin,
    not disabled), valid for ``valid_days``, signed with the community's active key.

    Raises :class:`SupervisorCardError`. Audited as ``supervisor_card.issue``.
    """
    if not 1 <= valid_days <= MAX_CARD_VALIDITY.days:
        raise SupervisorCardError("bad_validity", max_days=MAX_CARD_VALIDITY.days)
    user = find_user(session, username)
    if user is None or user.community_id != community_id:
        raise SupervisorCardError("no_such_user", username=username)
    if user.disabled_at is not None:
        raise SupervisorCardError("user_disabled", username=user.username)
    if Role(user.role) not in CARD_ROLES:
        raise SupervisorCardError("not_a_supervisor", username=user.username)
    try:
        key = active_signing_key(session, community_id)
    except SigningKeyUnavailable as exc:
        raise SupervisorCardError(exc.code, **exc.params) from None
    fields = card_for(
        key_id=key.entry.key_id,
        card_id=secrets.token_bytes(CARD_ID_BYTES),
        account_id=user.id,
        community_id=community_id,
        issued_at=now,
        valid_for=timedelta(days=valid_days),
    )
    record = SupervisorCardRecord(
        card_id=fields.card_id,
        community_id=community_id,
        user_id=user.id,
        key_id=fields.key_id,
        issued_at=fields.issued_at,
        valid_until=fields.valid_until,
        issued_by=actor[:64],
    )
    session.add(record)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="supervisor_card.issue",
        community_id=community_id,
        user_id=user.id,
        subject_type="supervisor_card",
        subject_id=short_id(fields.card_id),
        details={"username": user.username, "valid_until": fields.valid_until.isoformat()},
    )
    return IssuedCard(record, sign_supervisor_card(key, fields), user)


def card_fields(record: SupervisorCardRecord) -> SupervisorCard:
    """The signed facts of a stored card (what its QR carries)."""
    return SupervisorCard(
        key_id=record.key_id,
        card_id=record.card_id,
        account_id=record.user_id,
        community_id=record.community_id,
        issued_at=record.issued_at,
        valid_until=record.valid_until,
    )


def card_text(session: Session, record: SupervisorCardRecord) -> str:
    """The exact text printed on ``record``'s card (re-signed; signatures are deterministic).

    Raises :class:`SupervisorCardError` when the key that signed it cannot sign here."""
    key_record = session.get(SigningKeyRecord, record.key_id)
    if key_record is None:
        raise SupervisorCardError("key_not_registered", key_id=record.key_id)
    try:
        key = load_private_key(key_record)
    except SigningKeyUnavailable as exc:
        raise SupervisorCardError(exc.code, **exc.params) from None
    return sign_supervisor_card(key, card_fields(record))


def supervisor_cards(
    session: Session, community_id: int
) -> list[tuple[SupervisorCardRecord, User]]:
    """Every card of the community with its holder, newest first."""
    rows = session.execute(
        select(SupervisorCardRecord, User)
        .join(User, User.id == SupervisorCardRecord.user_id)
        .where(SupervisorCardRecord.community_id == community_id)
        .order_by(SupervisorCardRecord.id.desc())
    )
    return [(card, user) for card, user in rows]


def card_holders(session: Session, community_id: int) -> list[User]:
    """The community's accounts that may hold a card (supervisor or admin, not disabled),
    by name."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.community_id == community_id,
                User.disabled_at.is_(None),
                User.role.in_([role.value for role in CARD_ROLES]),
            )
            .order_by(User.username)
        )
    )


def card_of(session: Session, community_id: int, row_id: int) -> SupervisorCardRecord | None:
    """The community's card with row id ``row_id`` (None: no such card here)."""
    record = session.get(SupervisorCardRecord, row_id)
    return record if record is not None and record.community_id == community_id else None


def find_card(session: Session, community_id: int, card: str) -> SupervisorCardRecord:
    """The community's card whose id starts with ``card`` (hex, at least 8 digits; spaces
    and dashes ignored). Raises :class:`SupervisorCardError` ``no_such_card`` or
    ``ambiguous_card``."""
    digits = card.replace("-", "").replace(" ", "").lower()
    if len(digits) < SHORT_ID_LENGTH or any(c not in "0123456789abcdef" for c in digits):
        raise SupervisorCardError("no_such_card", card=card)
    found = [
        record
        for record in session.scalars(
            select(SupervisorCardRecord).where(SupervisorCardRecord.community_id == community_id)
        )
        if record.card_id.hex().startswith(digits)
    ]
    if not found:
        raise SupervisorCardError("no_such_card", card=card)
    if len(found) > 1:
        raise SupervisorCardError("ambiguous_card", card=card)
    return found[0]


def revoke_supervisor_card(
    session: Session,
    *,
    community_id: int,
    card: str,
    reason: str,
    actor: str,
    now: datetime,
) -> SupervisorCardRecord:
    """Revoke the card ``card`` (see :func:`find_card`) from ``now`` on: it stops counting
    at the gate at once online, and offline once a scanner's bundle is refreshed. Overrides
    made with it before ``now`` stay valid. Audited as ``supervisor_card.revoke``."""
    if not reason.strip():
        raise SupervisorCardError("reason_required")
    record = find_card(session, community_id, card)
    if record.revoked_at is not None:
        raise SupervisorCardError("already_revoked", card=short_id(record.card_id))
    record.revoked_at = now
    record.revoked_by = actor[:64]
    record.revoke_reason = reason.strip()
    record_event(
        session,
        actor=actor,
        action="supervisor_card.revoke",
        community_id=community_id,
        user_id=record.user_id,
        subject_type="supervisor_card",
        subject_id=short_id(record.card_id),
        reason=reason.strip(),
    )
    session.flush()
    return record


def card_face(
    session: Session, record: SupervisorCardRecord, *, community_name: str, timezone: str
) -> SupervisorCardFace:
    """What ``record``'s printed card shows (its text re-signed; dates in ``timezone``).

    Raises :class:`SupervisorCardError` when the key that signed it cannot sign here."""
    holder = session.get(User, record.user_id)
    name = "" if holder is None else (holder.display_name or holder.username)
    zone = ZoneInfo(timezone)
    first = record.issued_at.astimezone(zone).date()
    last = max(first, record.valid_until.astimezone(zone).date())
    return SupervisorCardFace(
        card_text=card_text(session, record),
        holder_name=name,
        community_name=community_name,
        valid_from=first,
        valid_until=last,
        short_id=short_id(record.card_id),
    )


def card_file(
    session: Session, record: SupervisorCardRecord, *, pdf: bool, actor: str, file_name: str
) -> bytes:
    """``record``'s card as a PDF (one card on A4) or a 300 dpi PNG; records
    ``supervisor_card.print``. Raises :class:`SupervisorCardError` when the key that signed
    it cannot sign here."""
    community = session.get(Community, record.community_id)
    if community is None:  # pragma: no cover - a foreign key
        raise LookupError(f"no community {record.community_id}")
    face = card_face(session, record, community_name=community.name, timezone=community.timezone)
    data = render_supervisor_card_pdf(face) if pdf else render_supervisor_card_png(face)
    record_event(
        session,
        actor=actor,
        action="supervisor_card.print",
        community_id=record.community_id,
        user_id=record.user_id,
        subject_type="supervisor_card",
        subject_id=short_id(record.card_id),
        details={"file": file_name},
    )
    session.flush()
    return data


def check_override_card(
    session: Session, *, context: CommunityContext, text: str, at: datetime
) -> CardHolder | CardRefusal:
    """Whether the card ``text`` lets a supervisor override at ``at`` (the scan time) in
    ``context``'s community. Reads only.

    Counts: it verifies (signature, key, community, validity at ``at``), the office issued
    it to the account it names, it was not revoked at or before ``at``, and the account
    exists, is not disabled and may override. Otherwise a :class:`CardRefusal`:
    ``supervisor_card_expired``, ``supervisor_card_revoked``, or ``supervisor_card_invalid``.
    """
    check = verify_supervisor_card(text, context.keys, community_id=context.community_id, now=at)
    if isinstance(check, CardRejected):
        card_id = None if check.fields is None else check.fields.card_id
        return CardRefusal(check.code, check.detail, card_id)
    record = session.scalar(
        select(SupervisorCardRecord).where(
            SupervisorCardRecord.card_id == check.card_id,
            SupervisorCardRecord.community_id == context.community_id,
        )
    )
    invalid = Code.SUPERVISOR_CARD_INVALID
    if record is None or record.user_id != check.account_id:
        return CardRefusal(invalid, "not_issued", check.card_id)
    if record.revoked_at is not None and record.revoked_at <= at:
        return CardRefusal(Code.SUPERVISOR_CARD_REVOKED, "revoked", check.card_id)
    user = session.get(User, record.user_id)
    if user is None or user.disabled_at is not None or Role(user.role) not in CARD_ROLES:
        return CardRefusal(invalid, "holder_may_not_override", check.card_id)
    name = (user.display_name or user.username)[:40]
    return CardHolder(
        user.id, context.community_id, f"{name}（主管卡 {short_id(check.card_id)}）", check.card_id
    )


def bundle_cards(
    session: Session, community_id: int, *, now: datetime
) -> tuple[tuple[CardState, ...], tuple[bytes, ...]]:
    """What a scanner needs to check cards offline: the unexpired cards that count (issued,
    not revoked, their holder may still override) and the ids of the other unexpired ones
    (revoked, or held by an account disabled or moved to another role). An expired card is
    refused by its own date. Ordered by card id, so an unchanged list hashes the same."""
    rows = session.execute(
        select(SupervisorCardRecord, User)
        .join(User, User.id == SupervisorCardRecord.user_id)
        .where(
            SupervisorCardRecord.community_id == community_id,
            SupervisorCardRecord.valid_until >= now,
        )
        .order_by(SupervisorCardRecord.card_id)
    )
    active: list[CardState] = []
    revoked: list[bytes] = []
    for record, user in rows:
        counts = user.disabled_at is None and Role(user.role) in CARD_ROLES
        if record.revoked_at is None and counts:
            active.append(CardState(record.card_id, record.user_id, record.valid_until))
        else:
            revoked.append(record.card_id)
    return tuple(active), tuple(revoked)
