"""Pass format v1: the fixed binary layout, its Base45 text form, and the strict parser.

Text form: ``CP1:`` followed by 146 Base45 characters (150 characters in all), which
fits QR version 8 at error correction Q in alphanumeric mode.

The 146 characters decode to exactly 97 bytes, all integers big-endian::

    offset  size  field
    0       1     format version, always 0x01 for v1
    1       2     key id (u16): which signing key; the algorithm comes from the key entry
    3       12    pass id: 96 random bits from a CSPRNG, names this card
    15      4     household id (u32), opaque
    19      4     community id (u32), opaque
    23      2     generation (u16), bumped on re-issue so a lost card dies
    25      4     issued at, Unix seconds UTC (u32)
    29      4     valid until, Unix seconds UTC (u32), inclusive
    33      64    Ed25519 signature over SIGNING_CONTEXT + bytes 0..32

No personal data of any kind is in a pass. The layout never changes: a new layout
gets a new version byte and prefix, and v1 golden vectors stay valid forever.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from passes.base45 import ALPHABET, Base45Error, b45decode, b45encode
from passes.codes import Code
from passes.errors import PassError

if TYPE_CHECKING:  # keys imports this module
    from passes.keys import SigningKey

VERSION = 1
PREFIX = "CP1:"
BODY_LENGTH = 33
SIGNATURE_LENGTH = 64
TEXT_LENGTH = len(PREFIX) + 146
MAX_INPUT_LENGTH = 512
SIGNING_CONTEXT = b"checkpoint/pass/v1\x00"
"""Domain separation: a signature over a pass can never be replayed as another message."""

_BODY = struct.Struct(">BH12sIIHII")
_BASE45_SYMBOLS = frozenset(ALPHABET)
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Pass:
    """The signed facts of one household pass (format v1)."""

    key_id: int
    pass_id: bytes
    household_id: int
    community_id: int
    generation: int
    issued_at: datetime
    valid_until: datetime
    version: int = VERSION

    def __post_init__(self) -> None:
        _check_range("key_id", self.key_id, _U16)
        _check_range("household_id", self.household_id, _U32)
        _check_range("community_id", self.community_id, _U32)
        _check_range("generation", self.generation, _U16)
        if self.version != VERSION:
            raise ValueError(f"version must be {VERSION}")
        if not isinstance(self.pass_id, bytes) or len(self.pass_id) != 12:
            raise ValueError("pass_id must be 12 bytes")
        for name in ("issued_at", "valid_until"):
            moment = getattr(self, name)
            if moment.tzinfo is None or moment.microsecond:
                raise ValueError(f"{name} must be timezone-aware, whole seconds")
            _check_range(name, int(moment.timestamp()), _U32)
        if self.valid_until < self.issued_at:
            raise ValueError("valid_until is before issued_at")

    def body(self) -> bytes:
        """The 33 signed bytes."""
        return _BODY.pack(
            self.version,
            self.key_id,
            self.pass_id,
            self.household_id,
            self.community_id,
            self.generation,
            int(self.issued_at.timestamp()),
            int(self.valid_until.timestamp()),
        )


@dataclass(frozen=True)
class SignedPass:
    """A pass as parsed from text: its facts, the signed bytes and the signature.

    Parsing proves only the shape. Nothing here may be acted on before
    :func:`passes.verify_pass` has checked the signature.
    """

    fields: Pass
    body: bytes
    signature: bytes

    def text(self) -> str:
        """The canonical text form (re-encoding a parsed pass gives its input back)."""
        return PREFIX + b45encode(self.body + self.signature)


def signed_message(body: bytes) -> bytes:
    """What the signature covers."""
    return SIGNING_CONTEXT + body


def encode_pass(fields: Pass, signature: bytes) -> str:
    """Text form of a pass and its 64-byte signature."""
    if len(signature) != SIGNATURE_LENGTH:
        raise ValueError("signature must be 64 bytes")
    return PREFIX + b45encode(fields.body() + signature)


def parse_pass(text: object) -> SignedPass:
    """Parse the exact v1 shape; raise :class:`PassError` (code ``bad_format``) otherwise.

    Checks run cheapest first and the length cap comes before any other work, so
    hostile input costs O(1). ``detail`` is one of: ``not_text``, ``oversize``,
    ``lowercase``, ``bad_character``, ``wrong_prefix``, ``wrong_length``,
    ``bad_base45``, ``unknown_version``, ``bad_field``.
    """
    body, signature = open_envelope(
        text, prefix=PREFIX, text_length=TEXT_LENGTH, body_length=BODY_LENGTH, version=VERSION
    )
    version, key_id, pass_id, household_id, community_id, generation, issued, until = _BODY.unpack(
        body
    )
    try:
        fields = Pass(
            version=version,
            key_id=key_id,
            pass_id=pass_id,
            household_id=household_id,
            community_id=community_id,
            generation=generation,
            issued_at=datetime.fromtimestamp(issued, UTC),
            valid_until=datetime.fromtimestamp(until, UTC),
        )
    except ValueError:
        raise PassError(Code.BAD_FORMAT, "bad_field") from None
    return SignedPass(fields=fields, body=body, signature=signature)


def open_envelope(
    text: object, *, prefix: str, text_length: int, body_length: int, version: int
) -> tuple[bytes, bytes]:
    """Check the shape shared by every signed QR text: ``prefix`` + canonical Base45 of a
    fixed-length body (whose first byte is ``version``) and a 64-byte signature.

    Returns ``(body, signature)``, nothing verified yet. Raises :class:`PassError` with code
    ``bad_format``; cheapest checks first, and the length cap before any other work.
    """
    if not isinstance(text, str):
        raise PassError(Code.BAD_FORMAT, "not_text")
    if len(text) > MAX_INPUT_LENGTH:
        raise PassError(Code.BAD_FORMAT, "oversize")
    if not text.startswith(prefix):
        detail = "lowercase" if text[: len(prefix)].upper() == prefix else "wrong_prefix"
        raise PassError(Code.BAD_FORMAT, detail)
    if len(text) != text_length:
        raise PassError(Code.BAD_FORMAT, "wrong_length")
    payload = text[len(prefix) :]
    if not _BASE45_SYMBOLS.issuperset(payload):
        detail = "lowercase" if any("a" <= ch <= "z" for ch in payload) else "bad_character"
        raise PassError(Code.BAD_FORMAT, detail)
    try:
        raw = b45decode(payload)
    except Base45Error:
        raise PassError(Code.BAD_FORMAT, "bad_base45") from None
    if len(raw) != body_length + SIGNATURE_LENGTH:
        raise PassError(Code.BAD_FORMAT, "wrong_length")
    body, signature = raw[:body_length], raw[body_length:]
    if body[0] != version:
        raise PassError(Code.BAD_FORMAT, "unknown_version")
    return body, signature


def seal_envelope(key: SigningKey, key_id: int, body: bytes, *, context: bytes, prefix: str) -> str:
    """The signed QR text of ``body`` (the inverse of :func:`open_envelope`): ``prefix`` +
    Base45 of the body and ``key``'s signature over ``context + body``. ``key_id`` is the
    id the body names: it MUST be ``key``'s (``ValueError`` otherwise)."""
    if key_id != key.entry.key_id:
        raise ValueError(f"{prefix} key_id does not match the signing key")
    return prefix + b45encode(body + key.private_key.sign(context + body))


def _check_range(name: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer in 0..{maximum}")
