"""Rotating screen codes (format CS1): a short-lived, server-signed stand-in for a pass on a phone.

A community may let residents show a code that changes every few seconds instead of the static
pass, so a screenshot passed around stops working within minutes. The code names the pass it
stands for (its pass id and generation); the gate looks that pass up, checks it exactly as it
checks a presented pass, and decides with :func:`passes.decide` as usual. Printed cards keep
working: a screen code adds a way to present a pass, it replaces nothing.

Text form: ``CS1:`` followed by 134 Base45 characters (138 characters in all; QR version 8 at
error correction Q, like a v1 pass).

The 134 characters decode to exactly 89 bytes, all integers big-endian::

    offset  size  field
    0       1     format version, always 0x01 for CS1
    1       2     key id (u16): the community signing key that signed this code
    3       12    pass id: the issued pass this code stands for
    15      2     generation (u16) of that pass
    17      4     valid from, Unix seconds UTC (u32)
    21      4     valid until, Unix seconds UTC (u32), inclusive; at most
                  MAX_LIFETIME_SECONDS after valid from
    25      64    Ed25519 signature over SCREEN_SIGNING_CONTEXT + bytes 0..24

The signing context differs from the pass's (``checkpoint/pass/v1``), so a signature over a
screen code can never be read as a signature over a pass, nor the other way round, although
both are made with the same community key. No personal data is in a screen code.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passes.codes import Code
from passes.errors import PassError
from passes.keys import KeyEntry, KeySet, KeyStatus, SigningKey
from passes.pass_format import Pass, open_envelope, seal_envelope
from passes.verification import PassCheck, PassRejected, VerifiedPass

SCREEN_VERSION = 1
SCREEN_PREFIX = "CS1:"
SCREEN_BODY_LENGTH = 25
SCREEN_SIGNATURE_LENGTH = 64
SCREEN_TEXT_LENGTH = len(SCREEN_PREFIX) + 134
SCREEN_SIGNING_CONTEXT = b"checkpoint/screen/v1\x00"
"""Domain separation from passes (``checkpoint/pass/v1``) and from anything else a key signs."""
MAX_LIFETIME_SECONDS = 15 * 60
"""The longest validity a screen code may carry; a longer one is refused as malformed."""

_BODY = struct.Struct(">BH12sHII")
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class ScreenCode:
    """The signed facts of one screen code (CS1)."""

    key_id: int
    pass_id: bytes
    generation: int
    valid_from: datetime
    valid_until: datetime
    version: int = SCREEN_VERSION

    def __post_init__(self) -> None:
        if self.version != SCREEN_VERSION:
            raise ValueError(f"version must be {SCREEN_VERSION}")
        for name, value in (("key_id", self.key_id), ("generation", self.generation)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U16:
                raise ValueError(f"{name} must be an integer in 0..{_U16}")
        if not isinstance(self.pass_id, bytes) or len(self.pass_id) != 12:
            raise ValueError("pass_id must be 12 bytes")
        for name in ("valid_from", "valid_until"):
            moment = getattr(self, name)
            if moment.tzinfo is None or moment.microsecond:
                raise ValueError(f"{name} must be timezone-aware, whole seconds")
            if not 0 <= int(moment.timestamp()) <= _U32:
                raise ValueError(f"{name} is outside the u32 range of Unix seconds")
        lifetime = (self.valid_until - self.valid_from).total_seconds()
        if not 0 <= lifetime <= MAX_LIFETIME_SECONDS:
            raise ValueError(f"a screen code lives 0..{MAX_LIFETIME_SECONDS} seconds")

    def body(self) -> bytes:
        """The 25 signed bytes."""
        return _BODY.pack(
            self.version,
            self.key_id,
            self.pass_id,
            self.generation,
            int(self.valid_from.timestamp()),
            int(self.valid_until.timestamp()),
        )


@dataclass(frozen=True)
class SignedScreenCode:
    """A screen code as parsed: its facts, the signed bytes and the signature (unverified)."""

    fields: ScreenCode
    body: bytes
    signature: bytes


@dataclass(frozen=True)
class VerifiedScreenCode:
    """A screen code whose signature, key and validity period checked out."""

    fields: ScreenCode
    key: KeyEntry

    @property
    def pass_id(self) -> bytes:
        """The issued pass this code stands for."""
        return self.fields.pass_id

    @property
    def generation(self) -> int:
        """The generation of that pass when the code was made."""
        return self.fields.generation


ScreenCodeCheck = VerifiedScreenCode | PassRejected


def is_screen_code(text: object) -> bool:
    """True iff ``text`` claims to be a screen code (has the CS1 prefix); proves nothing else."""
    return isinstance(text, str) and text.startswith(SCREEN_PREFIX)


def screen_code_for(
    pass_fields: Pass, *, key_id: int, valid_from: datetime, lifetime: timedelta
) -> ScreenCode:
    """The screen code standing for ``pass_fields``, valid from ``valid_from`` for ``lifetime``.

    ``valid_from`` is truncated to whole seconds; ``lifetime`` MUST be at most
    :data:`MAX_LIFETIME_SECONDS`.
    """
    start = valid_from.astimezone(UTC).replace(microsecond=0)
    return ScreenCode(
        key_id=key_id,
        pass_id=pass_fields.pass_id,
        generation=pass_fields.generation,
        valid_from=start,
        valid_until=start + timedelta(seconds=int(lifetime.total_seconds())),
    )


def sign_screen_code(key: SigningKey, fields: ScreenCode) -> str:
    """The text of ``fields`` signed with ``key`` (``fields.key_id`` MUST be the key's id)."""
    return seal_envelope(
        key, fields.key_id, fields.body(), context=SCREEN_SIGNING_CONTEXT, prefix=SCREEN_PREFIX
    )


def parse_screen_code(text: object) -> SignedScreenCode:
    """Parse the exact CS1 shape; raise :class:`PassError` (code ``bad_format``) otherwise.

    Cheapest checks first, the length cap before anything else. ``detail`` is one of
    ``not_text``, ``oversize``, ``lowercase``, ``bad_character``, ``wrong_prefix``,
    ``wrong_length``, ``bad_base45``, ``unknown_version``, ``bad_field``.
    """
    body, signature = open_envelope(
        text,
        prefix=SCREEN_PREFIX,
        text_length=SCREEN_TEXT_LENGTH,
        body_length=SCREEN_BODY_LENGTH,
        version=SCREEN_VERSION,
    )
    version, key_id, pass_id, generation, valid_from, valid_until = _BODY.unpack(body)
    try:
        fields = ScreenCode(
            version=version,
            key_id=key_id,
            pass_id=pass_id,
            generation=generation,
            valid_from=datetime.fromtimestamp(valid_from, UTC),
            valid_until=datetime.fromtimestamp(valid_until, UTC),
        )
    except ValueError:
        raise PassError(Code.BAD_FORMAT, "bad_field") from None
    return SignedScreenCode(fields=fields, body=body, signature=signature)


def verify_screen_code(text: object, keys: KeySet, now: datetime) -> ScreenCodeCheck:
    """Check a presented screen code; never raises for any input.

    Order (first failure wins): ``bad_format`` -> ``unknown_key`` -> ``bad_signature`` ->
    ``key_revoked`` -> ``key_not_valid`` (made outside the key's signing period) ->
    ``not_yet_valid`` -> ``screen_code_stale`` (``now`` after ``valid_until``: a screenshot
    older than its validity; distinct from ``expired``, which is the pass's own end). The
    pass it stands for is checked afterwards by :func:`screen_pass_check`.
    """
    try:
        signed = parse_screen_code(text)
    except PassError as exc:
        return PassRejected(exc.code, exc.detail)
    candidates = keys.candidates(signed.fields.key_id)
    if not candidates:
        return PassRejected(Code.UNKNOWN_KEY, "unknown_key")
    message = SCREEN_SIGNING_CONTEXT + signed.body
    key = next((k for k in candidates if k.verifies(message, signed.signature)), None)
    if key is None:
        return PassRejected(Code.BAD_SIGNATURE, "bad_signature")
    fields = signed.fields
    if key.status is KeyStatus.REVOKED:
        return PassRejected(Code.KEY_REVOKED, "key_revoked")
    if not key.covers(fields.valid_from):
        return PassRejected(Code.KEY_NOT_VALID, "screen_code_outside_key_period")
    if now < fields.valid_from:
        return PassRejected(Code.NOT_YET_VALID, "screen_code_not_yet_valid")
    if now > fields.valid_until:
        return PassRejected(Code.SCREEN_CODE_STALE, "screen_code_stale")
    return VerifiedScreenCode(fields, key)


def screen_pass_check(
    screen: ScreenCodeCheck,
    issued: Pass | None,
    keys: KeySet,
    *,
    community_id: int,
    now: datetime,
) -> PassCheck:
    """The check result :func:`passes.decide` takes, for the pass a screen code stands for.

    ``screen`` is :func:`verify_screen_code`'s result; a rejection passes through unchanged.
    ``issued`` is the stored facts of the pass whose id the code names (None when no such pass
    is on record: ``unknown_household``). Those facts come from the issuer's own records, so
    their signature is not re-checked here; everything else :func:`passes.verify_pass` checks
    after the signature is, in the same order: ``unknown_key`` (the pass's key is not in
    ``keys``), ``key_revoked``, ``key_not_valid``, ``wrong_community``, ``not_yet_valid``,
    ``expired``. A code made for another generation of the pass is ``superseded``.
    Revocation and the household's current generation are then checked by
    :func:`passes.decide` exactly as for a presented pass.
    """
    if isinstance(screen, PassRejected):
        return screen
    if issued is None or issued.pass_id != screen.pass_id:
        return PassRejected(Code.UNKNOWN_HOUSEHOLD, "screen_code_unknown_pass")
    if issued.generation != screen.generation:
        return PassRejected(Code.SUPERSEDED, "screen_code_generation", issued)
    candidates = keys.candidates(issued.key_id)
    if not candidates:
        return PassRejected(Code.UNKNOWN_KEY, "unknown_key")
    # Several entries may share an id; prefer one that is not revoked.
    key = min(candidates, key=lambda entry: entry.status is KeyStatus.REVOKED)
    if key.status is KeyStatus.REVOKED:
        return PassRejected(Code.KEY_REVOKED, "key_revoked", issued)
    if not key.covers(issued.issued_at):
        return PassRejected(Code.KEY_NOT_VALID, "issued_outside_key_period", issued)
    if issued.community_id != community_id:
        return PassRejected(Code.WRONG_COMMUNITY, "wrong_community", issued)
    if now < issued.issued_at:
        return PassRejected(Code.NOT_YET_VALID, "not_yet_valid", issued)
    if now > issued.valid_until:
        return PassRejected(Code.EXPIRED, "expired", issued)
    return VerifiedPass(issued, key)
