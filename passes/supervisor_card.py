"""Supervisor cards (format SV1): a signed card that lets a named supervisor override a refusal.

The office issues a card to a supervisor's account. At a refused verdict the volunteer scans
it and picks a reason; the crossing is allowed and recorded as an override naming the account
and the card, online and offline. The same card unlocks the scanner's clock-fault and
stale-bundle screens. Cards are revocable: revoked card ids travel in the bundle.

Text form: ``SV1:`` followed by 143 Base45 characters (147 characters in all; QR version 8 at
error correction Q, like a v1 pass).

The 143 characters decode to exactly 95 bytes, all integers big-endian::

    offset  size  field
    0       1     format version, always 0x01 for SV1
    1       2     key id (u16): the community signing key that signed this card
    3       12    card id: 96 random bits from a CSPRNG, names this card
    15      4     account id (u32): the supervisor's user account
    19      4     community id (u32)
    23      4     issued at, Unix seconds UTC (u32)
    27      4     valid until, Unix seconds UTC (u32), inclusive; at most
                  MAX_CARD_VALIDITY after issued at
    31      64    Ed25519 signature over CARD_SIGNING_CONTEXT + bytes 0..30

The signing context differs from the pass's (``checkpoint/pass/v1``) and the screen code's,
so a signature over a card can never be read as one over a pass or a screen code, although
all are made with the same community key. No personal data is in a card: the account is an
opaque id (the gate server knows its name; the bundle does not).
"""

from __future__ import annotations

import struct
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passes.codes import Code
from passes.errors import PassError
from passes.keys import KeyEntry, KeySet, KeyStatus, SigningKey
from passes.pass_format import open_envelope, seal_envelope

CARD_VERSION = 1
CARD_PREFIX = "SV1:"
CARD_BODY_LENGTH = 31
CARD_TEXT_LENGTH = len(CARD_PREFIX) + 143
CARD_SIGNING_CONTEXT = b"checkpoint/supervisor-card/v1\x00"
"""Domain separation from passes, screen codes and anything else a community key signs."""
MAX_CARD_VALIDITY = timedelta(days=400)
"""No card is issued for longer; one claiming more is refused as malformed."""
CARD_ID_BYTES = 12

_BODY = struct.Struct(">BH12sIIII")
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class SupervisorCard:
    """The signed facts of one supervisor card (SV1)."""

    key_id: int
    card_id: bytes
    account_id: int
    community_id: int
    issued_at: datetime
    valid_until: datetime
    version: int = CARD_VERSION

    def __post_init__(self) -> None:
        if self.version != CARD_VERSION:
            raise ValueError(f"version must be {CARD_VERSION}")
        for name, value, top in (
            ("key_id", self.key_id, _U16),
            ("account_id", self.account_id, _U32),
            ("community_id", self.community_id, _U32),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise ValueError(f"{name} must be an integer in 0..{top}")
        if not isinstance(self.card_id, bytes) or len(self.card_id) != CARD_ID_BYTES:
            raise ValueError(f"card_id must be {CARD_ID_BYTES} bytes")
        for name in ("issued_at", "valid_until"):
            moment = getattr(self, name)
            if moment.tzinfo is None or moment.microsecond:
                raise ValueError(f"{name} must be timezone-aware, whole seconds")
            if not 0 <= int(moment.timestamp()) <= _U32:
                raise ValueError(f"{name} is outside the u32 range of Unix seconds")
        if not timedelta(0) <= self.valid_until - self.issued_at <= MAX_CARD_VALIDITY:
            raise ValueError(f"a card is valid 0..{MAX_CARD_VALIDITY.days} days")

    def body(self) -> bytes:
        """The 31 signed bytes."""
        return _BODY.pack(
            self.version,
            self.key_id,
            self.card_id,
            self.account_id,
            self.community_id,
            int(self.issued_at.timestamp()),
            int(self.valid_until.timestamp()),
        )


@dataclass(frozen=True)
class VerifiedCard:
    """A card whose signature, key, community and validity period checked out at a moment."""

    fields: SupervisorCard
    key: KeyEntry

    @property
    def card_id(self) -> bytes:
        """The card's 12 random bytes."""
        return self.fields.card_id

    @property
    def account_id(self) -> int:
        """The supervisor's account."""
        return self.fields.account_id


@dataclass(frozen=True)
class CardRejected:
    """A card refused: ``code`` (``supervisor_card_invalid``, ``supervisor_card_expired`` or
    ``supervisor_card_revoked``) and a ``detail`` for logs. ``fields`` only once the
    signature verified (never for forgeries)."""

    code: Code
    detail: str
    fields: SupervisorCard | None = None


CardCheck = VerifiedCard | CardRejected


@dataclass(frozen=True)
class CardState:
    """A card as the bundle lists it: issued and not revoked (see :func:`card_standing`)."""

    card_id: bytes
    account_id: int
    valid_until: datetime


def is_supervisor_card(text: object) -> bool:
    """True iff ``text`` claims to be a supervisor card (has the SV1 prefix); proves nothing."""
    return isinstance(text, str) and text.startswith(CARD_PREFIX)


def sign_supervisor_card(key: SigningKey, fields: SupervisorCard) -> str:
    """The text of ``fields`` signed with ``key`` (``fields.key_id`` MUST be the key's id)."""
    return seal_envelope(
        key, fields.key_id, fields.body(), context=CARD_SIGNING_CONTEXT, prefix=CARD_PREFIX
    )


def card_for(
    *,
    key_id: int,
    card_id: bytes,
    account_id: int,
    community_id: int,
    issued_at: datetime,
    valid_for: timedelta,
) -> SupervisorCard:
    """The facts of a new card, ``issued_at`` truncated to whole seconds, valid for
    ``valid_for`` (at most :data:`MAX_CARD_VALIDITY`)."""
    start = issued_at.astimezone(UTC).replace(microsecond=0)
    return SupervisorCard(
        key_id=key_id,
        card_id=card_id,
        account_id=account_id,
        community_id=community_id,
        issued_at=start,
        valid_until=start + timedelta(seconds=int(valid_for.total_seconds())),
    )


def parse_supervisor_card(text: object) -> tuple[SupervisorCard, bytes, bytes]:
    """Parse the exact SV1 shape: ``(fields, body, signature)``, nothing verified. Raises
    :class:`PassError` (code ``bad_format``, ``detail`` as :func:`passes.parse_pass`'s)."""
    body, signature = open_envelope(
        text,
        prefix=CARD_PREFIX,
        text_length=CARD_TEXT_LENGTH,
        body_length=CARD_BODY_LENGTH,
        version=CARD_VERSION,
    )
    version, key_id, card_id, account_id, community_id, issued, until = _BODY.unpack(body)
    try:
        fields = SupervisorCard(
            version=version,
            key_id=key_id,
            card_id=card_id,
            account_id=account_id,
            community_id=community_id,
            issued_at=datetime.fromtimestamp(issued, UTC),
            valid_until=datetime.fromtimestamp(until, UTC),
        )
    except ValueError:
        raise PassError(Code.BAD_FORMAT, "bad_field") from None
    return fields, body, signature


def verify_supervisor_card(
    text: object, keys: KeySet, *, community_id: int, now: datetime
) -> CardCheck:
    """Check a presented card at ``now``; never raises for any input.

    Order (first failure wins), every one ``supervisor_card_invalid`` but the last:
    bad format -> unknown key -> bad signature -> key revoked -> made outside the key's
    signing period -> another community -> not yet valid; then ``supervisor_card_expired``
    (``now`` after ``valid_until``). Revocation needs the issuer's list:
    :func:`card_standing` (offline) or the gate's records (online).
    """
    invalid = Code.SUPERVISOR_CARD_INVALID
    try:
        fields, body, signature = parse_supervisor_card(text)
    except PassError as exc:
        return CardRejected(invalid, exc.detail)
    candidates = keys.candidates(fields.key_id)
    if not candidates:
        return CardRejected(invalid, "unknown_key")
    message = CARD_SIGNING_CONTEXT + body
    key = next((k for k in candidates if k.verifies(message, signature)), None)
    if key is None:
        return CardRejected(invalid, "bad_signature")
    if key.status is KeyStatus.REVOKED:
        return CardRejected(invalid, "key_revoked", fields)
    if not key.covers(fields.issued_at):
        return CardRejected(invalid, "issued_outside_key_period", fields)
    if fields.community_id != community_id:
        return CardRejected(invalid, "wrong_community", fields)
    if now < fields.issued_at:
        return CardRejected(invalid, "not_yet_valid", fields)
    if now > fields.valid_until:
        return CardRejected(Code.SUPERVISOR_CARD_EXPIRED, "expired", fields)
    return VerifiedCard(fields, key)


def card_standing(
    check: CardCheck, *, known: Mapping[bytes, CardState], revoked: Container[bytes]
) -> CardCheck:
    """``check`` (from :func:`verify_supervisor_card`) against the issuer's list, as an offline
    device holds it: a revoked card is ``supervisor_card_revoked``; a card the list does not
    know (issued after the list, or never issued: a key misused) or knows for another
    account is ``supervisor_card_invalid``. A rejection passes through unchanged."""
    if isinstance(check, CardRejected):
        return check
    if check.card_id in revoked:
        return CardRejected(Code.SUPERVISOR_CARD_REVOKED, "revoked", check.fields)
    state = known.get(check.card_id)
    if state is None or state.account_id != check.account_id:
        return CardRejected(Code.SUPERVISOR_CARD_INVALID, "not_issued", check.fields)
    return check
