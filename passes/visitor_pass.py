"""Visitor passes (format VP1): the office pre-approves one outsider for a time-boxed entry.

A visitor pass names no person: the office keeps the visitor's name, phone and purpose;
the pass carries only an opaque id, its kind, its window and whether it lets in once.
Single-use passes are consumed by their first allowed entry; gates learn of used and revoked
visitor passes from the bundle (offline), the server from its records (online).

Text form: ``VP1:`` followed by 140 Base45 characters (144 characters in all; QR version 8
at error correction Q, like a v1 pass).

The 140 characters decode to exactly 93 bytes, all integers big-endian::

    offset  size  field
    0       1     format version, always 0x01 for VP1
    1       2     key id (u16): the community signing key that signed this pass
    3       12    visitor pass id: 96 random bits from a CSPRNG, names this pass
    15      4     community id (u32)
    19      4     valid from, Unix seconds UTC (u32)
    23      4     valid until, Unix seconds UTC (u32), inclusive; at most
                  MAX_VISITOR_VALIDITY after valid from
    27      1     uses: 1 = single use (the first entry consumes it), 0 = any entries
                  within the window
    28      1     kind (u8): 1 visitor, 2 delivery, 3 medical, 4 official, 5 other
    29      64    Ed25519 signature over VISITOR_SIGNING_CONTEXT + bytes 0..28

The signing context differs from every other format's, so a visitor pass can never be read
as a household pass, a screen code or a supervisor card, nor one of them as a visitor pass.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from passes.codes import Code
from passes.errors import PassError
from passes.keys import KeyEntry, KeySet, KeyStatus, SigningKey
from passes.pass_format import open_envelope, seal_envelope

VISITOR_VERSION = 1
VISITOR_PREFIX = "VP1:"
VISITOR_BODY_LENGTH = 29
VISITOR_TEXT_LENGTH = len(VISITOR_PREFIX) + 140
VISITOR_SIGNING_CONTEXT = b"checkpoint/visitor-pass/v1\x00"
"""Domain separation from passes, screen codes, supervisor cards and anything else."""
MAX_VISITOR_VALIDITY = timedelta(days=31)
"""No visitor pass is issued for longer; one claiming more is refused as malformed."""
VISITOR_ID_BYTES = 12

_BODY = struct.Struct(">BH12sIIIBB")
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


class VisitorKind(IntEnum):
    """Who the outsider is (the byte in the pass; names are the stored values)."""

    VISITOR = 1
    DELIVERY = 2
    MEDICAL = 3
    OFFICIAL = 4
    OTHER = 5

    @property
    def key(self) -> str:
        """The stored, lower-case name (``visitor``, ``delivery``, ...)."""
        return self.name.lower()

    @classmethod
    def from_key(cls, key: str) -> VisitorKind:
        """The kind stored as ``key``; raises ValueError for anything else."""
        for kind in cls:
            if kind.key == key:
                return kind
        raise ValueError(f"unknown visitor kind {key!r}")


@dataclass(frozen=True)
class VisitorPass:
    """The signed facts of one visitor pass (VP1)."""

    key_id: int
    pass_id: bytes
    community_id: int
    valid_from: datetime
    valid_until: datetime
    single_use: bool
    kind: VisitorKind
    version: int = VISITOR_VERSION

    def __post_init__(self) -> None:
        if self.version != VISITOR_VERSION:
            raise ValueError(f"version must be {VISITOR_VERSION}")
        for name, value, top in (
            ("key_id", self.key_id, _U16),
            ("community_id", self.community_id, _U32),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise ValueError(f"{name} must be an integer in 0..{top}")
        if not isinstance(self.pass_id, bytes) or len(self.pass_id) != VISITOR_ID_BYTES:
            raise ValueError(f"pass_id must be {VISITOR_ID_BYTES} bytes")
        if not isinstance(self.single_use, bool):
            raise ValueError("single_use must be a bool")
        if not isinstance(self.kind, VisitorKind):
            raise ValueError("kind must be a VisitorKind")
        for name in ("valid_from", "valid_until"):
            moment = getattr(self, name)
            if moment.tzinfo is None or moment.microsecond:
                raise ValueError(f"{name} must be timezone-aware, whole seconds")
            if not 0 <= int(moment.timestamp()) <= _U32:
                raise ValueError(f"{name} is outside the u32 range of Unix seconds")
        if not timedelta(0) <= self.valid_until - self.valid_from <= MAX_VISITOR_VALIDITY:
            raise ValueError(f"a visitor pass is valid 0..{MAX_VISITOR_VALIDITY.days} days")

    def body(self) -> bytes:
        """The 29 signed bytes."""
        return _BODY.pack(
            self.version,
            self.key_id,
            self.pass_id,
            self.community_id,
            int(self.valid_from.timestamp()),
            int(self.valid_until.timestamp()),
            1 if self.single_use else 0,
            int(self.kind),
        )


@dataclass(frozen=True)
class VerifiedVisitorPass:
    """A visitor pass whose signature, key and community checked out (its window and use
    are judged by :func:`passes.visitor_decision.decide_visitor`)."""

    fields: VisitorPass
    key: KeyEntry


@dataclass(frozen=True)
class VisitorPassRejected:
    """A visitor pass refused: a ``code`` and a ``detail`` for logs. ``fields`` only once
    the signature verified (never for forgeries)."""

    code: Code
    detail: str
    fields: VisitorPass | None = None


VisitorPassCheck = VerifiedVisitorPass | VisitorPassRejected


def is_visitor_pass(text: object) -> bool:
    """True iff ``text`` claims to be a visitor pass (has the VP1 prefix); proves nothing."""
    return isinstance(text, str) and text.startswith(VISITOR_PREFIX)


def visitor_pass_for(
    *,
    key_id: int,
    pass_id: bytes,
    community_id: int,
    valid_from: datetime,
    valid_until: datetime,
    single_use: bool,
    kind: VisitorKind,
) -> VisitorPass:
    """The facts of a new visitor pass, both moments truncated to whole UTC seconds."""
    return VisitorPass(
        key_id=key_id,
        pass_id=pass_id,
        community_id=community_id,
        valid_from=valid_from.astimezone(UTC).replace(microsecond=0),
        valid_until=valid_until.astimezone(UTC).replace(microsecond=0),
        single_use=single_use,
        kind=kind,
    )


def sign_visitor_pass(key: SigningKey, fields: VisitorPass) -> str:
    """The text of ``fields`` signed with ``key`` (``fields.key_id`` MUST be the key's id)."""
    return seal_envelope(
        key, fields.key_id, fields.body(), context=VISITOR_SIGNING_CONTEXT, prefix=VISITOR_PREFIX
    )


def parse_visitor_pass(text: object) -> tuple[VisitorPass, bytes, bytes]:
    """Parse the exact VP1 shape: ``(fields, body, signature)``, nothing verified. Raises
    :class:`PassError` (code ``bad_format``, ``detail`` as :func:`passes.parse_pass`'s)."""
    body, signature = open_envelope(
        text,
        prefix=VISITOR_PREFIX,
        text_length=VISITOR_TEXT_LENGTH,
        body_length=VISITOR_BODY_LENGTH,
        version=VISITOR_VERSION,
    )
    version, key_id, pass_id, community_id, start, until, uses, kind = _BODY.unpack(body)
    try:
        if uses not in (0, 1):
            raise ValueError("uses")
        fields = VisitorPass(
            version=version,
            key_id=key_id,
            pass_id=pass_id,
            community_id=community_id,
            valid_from=datetime.fromtimestamp(start, UTC),
            valid_until=datetime.fromtimestamp(until, UTC),
            single_use=uses == 1,
            kind=VisitorKind(kind),
        )
    except ValueError:
        raise PassError(Code.BAD_FORMAT, "bad_field") from None
    return fields, body, signature


def verify_visitor_pass(text: object, keys: KeySet, *, community_id: int) -> VisitorPassCheck:
    """Check a presented visitor pass's authenticity; never raises for any input.

    Order (first failure wins): ``bad_format`` -> ``unknown_key`` -> ``bad_signature`` ->
    ``key_revoked`` -> ``key_not_valid`` (``valid_from`` outside the key's signing period)
    -> ``wrong_community``. The window, use and revocation are the decision's
    (:func:`passes.visitor_decision.decide_visitor`).
    """
    try:
        fields, body, signature = parse_visitor_pass(text)
    except PassError as exc:
        return VisitorPassRejected(exc.code, exc.detail)
    candidates = keys.candidates(fields.key_id)
    if not candidates:
        return VisitorPassRejected(Code.UNKNOWN_KEY, "unknown_key")
    message = VISITOR_SIGNING_CONTEXT + body
    key = next((k for k in candidates if k.verifies(message, signature)), None)
    if key is None:
        return VisitorPassRejected(Code.BAD_SIGNATURE, "bad_signature")
    if key.status is KeyStatus.REVOKED:
        return VisitorPassRejected(Code.KEY_REVOKED, "key_revoked", fields)
    if not key.covers(fields.valid_from):
        return VisitorPassRejected(Code.KEY_NOT_VALID, "issued_outside_key_period", fields)
    if fields.community_id != community_id:
        return VisitorPassRejected(Code.WRONG_COMMUNITY, "wrong_community", fields)
    return VerifiedVisitorPass(fields, key)
