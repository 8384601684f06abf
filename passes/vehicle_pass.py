"""Vehicle passes (format VH1): a household's car, by its plate, on a windscreen card.

The office registers a household's car and issues it a pass; the card behind the windscreen
carries its QR and the plate in large type. The pass names the household (an opaque id, as a
household pass does) and the plate, nothing about a person. A gate scans it, and the volunteer
may also type the plate he reads on the car: a mismatch is refused (a card moved to another
car). Revoked vehicle pass ids travel in the bundle with the household passes' (same 12-byte
random ids).

Text form: ``VH1:`` followed by 167 Base45 characters (171 characters in all; QR version 9
at error correction Q).

The 167 characters decode to exactly 111 bytes, all integers big-endian::

    offset  size  field
    0       1     format version, always 0x01 for VH1
    1       2     key id (u16): the community signing key that signed this pass
    3       12    vehicle pass id: 96 random bits from a CSPRNG, names this pass
    15      4     community id (u32)
    19      4     household id (u32)
    23      4     issued at, Unix seconds UTC (u32): valid from
    27      4     valid until, Unix seconds UTC (u32), inclusive; at most
                  MAX_VEHICLE_VALIDITY after issued at
    31      16    plate: its normalised text (passes.plates) in UTF-8, padded with NUL bytes
    47      64    Ed25519 signature over VEHICLE_SIGNING_CONTEXT + bytes 0..46

The signing context differs from every other format's, so a vehicle pass can never be read
as a household pass, a screen code, a supervisor card or a visitor pass, nor one of them as
a vehicle pass.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passes.codes import Code
from passes.errors import PassError
from passes.keys import KeyEntry, KeySet, KeyStatus, SigningKey
from passes.pass_format import open_envelope, seal_envelope
from passes.plates import PlateError, parse_plate

VEHICLE_VERSION = 1
VEHICLE_PREFIX = "VH1:"
VEHICLE_BODY_LENGTH = 47
VEHICLE_TEXT_LENGTH = len(VEHICLE_PREFIX) + 167
VEHICLE_SIGNING_CONTEXT = b"checkpoint/vehicle-pass/v1\x00"
"""Domain separation from passes, screen codes, cards, visitor passes and anything else."""
MAX_VEHICLE_VALIDITY = timedelta(days=400)
"""No vehicle pass is issued for longer; one claiming more is refused as malformed."""
VEHICLE_ID_BYTES = 12
PLATE_BYTES = 16

_BODY = struct.Struct(">BH12sIIII16s")
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class VehiclePass:
    """The signed facts of one vehicle pass (VH1). ``plate`` is normalised and valid."""

    key_id: int
    pass_id: bytes
    community_id: int
    household_id: int
    issued_at: datetime
    valid_until: datetime
    plate: str
    version: int = VEHICLE_VERSION

    def __post_init__(self) -> None:
        if self.version != VEHICLE_VERSION:
            raise ValueError(f"version must be {VEHICLE_VERSION}")
        for name, value, top in (
            ("key_id", self.key_id, _U16),
            ("community_id", self.community_id, _U32),
            ("household_id", self.household_id, _U32),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise ValueError(f"{name} must be an integer in 0..{top}")
        if not isinstance(self.pass_id, bytes) or len(self.pass_id) != VEHICLE_ID_BYTES:
            raise ValueError(f"pass_id must be {VEHICLE_ID_BYTES} bytes")
        try:
            plate = parse_plate(self.plate)
        except PlateError:
            raise ValueError("plate must be a valid plate") from None
        if plate.text != self.plate:
            raise ValueError("plate must be normalised")
        for name in ("issued_at", "valid_until"):
            moment = getattr(self, name)
            if moment.tzinfo is None or moment.microsecond:
                raise ValueError(f"{name} must be timezone-aware, whole seconds")
            if not 0 <= int(moment.timestamp()) <= _U32:
                raise ValueError(f"{name} is outside the u32 range of Unix seconds")
        if not timedelta(0) <= self.valid_until - self.issued_at <= MAX_VEHICLE_VALIDITY:
            raise ValueError(f"a vehicle pass is valid 0..{MAX_VEHICLE_VALIDITY.days} days")

    def body(self) -> bytes:
        """The 47 signed bytes."""
        return _BODY.pack(
            self.version,
            self.key_id,
            self.pass_id,
            self.community_id,
            self.household_id,
            int(self.issued_at.timestamp()),
            int(self.valid_until.timestamp()),
            self.plate.encode("utf-8").ljust(PLATE_BYTES, b"\x00"),
        )


@dataclass(frozen=True)
class VerifiedVehiclePass:
    """A vehicle pass whose signature, key, community and validity period checked out."""

    fields: VehiclePass
    key: KeyEntry


@dataclass(frozen=True)
class VehiclePassRejected:
    """A vehicle pass refused: a ``code`` and a ``detail`` for logs. ``fields`` only once the
    signature verified (never for forgeries)."""

    code: Code
    detail: str
    fields: VehiclePass | None = None


VehiclePassCheck = VerifiedVehiclePass | VehiclePassRejected


def is_vehicle_pass(text: object) -> bool:
    """True iff ``text`` claims to be a vehicle pass (has the VH1 prefix); proves nothing."""
    return isinstance(text, str) and text.startswith(VEHICLE_PREFIX)


def vehicle_pass_for(
    *,
    key_id: int,
    pass_id: bytes,
    community_id: int,
    household_id: int,
    issued_at: datetime,
    valid_for: timedelta,
    plate: str,
) -> VehiclePass:
    """The facts of a new vehicle pass: moments truncated to whole UTC seconds, the plate
    normalised (raises :class:`passes.plates.PlateError` if it is no plate)."""
    start = issued_at.astimezone(UTC).replace(microsecond=0)
    return VehiclePass(
        key_id=key_id,
        pass_id=pass_id,
        community_id=community_id,
        household_id=household_id,
        issued_at=start,
        valid_until=start + valid_for,
        plate=parse_plate(plate).text,
    )


def sign_vehicle_pass(key: SigningKey, fields: VehiclePass) -> str:
    """The text of ``fields`` signed with ``key`` (``fields.key_id`` MUST be the key's id)."""
    return seal_envelope(
        key, fields.key_id, fields.body(), context=VEHICLE_SIGNING_CONTEXT, prefix=VEHICLE_PREFIX
    )


def parse_vehicle_pass(text: object) -> tuple[VehiclePass, bytes, bytes]:
    """Parse the exact VH1 shape: ``(fields, body, signature)``, nothing verified. Raises
    :class:`PassError` (code ``bad_format``, ``detail`` as :func:`passes.parse_pass`'s)."""
    body, signature = open_envelope(
        text,
        prefix=VEHICLE_PREFIX,
        text_length=VEHICLE_TEXT_LENGTH,
        body_length=VEHICLE_BODY_LENGTH,
        version=VEHICLE_VERSION,
    )
    version, key_id, pass_id, community_id, household_id, start, until, plate = _BODY.unpack(body)
    try:
        text_bytes = plate.rstrip(b"\x00")
        if b"\x00" in text_bytes:
            raise ValueError("plate")
        fields = VehiclePass(
            version=version,
            key_id=key_id,
            pass_id=pass_id,
            community_id=community_id,
            household_id=household_id,
            issued_at=datetime.fromtimestamp(start, UTC),
            valid_until=datetime.fromtimestamp(until, UTC),
            plate=text_bytes.decode("utf-8"),
        )
    except ValueError:  # UnicodeDecodeError is one
        raise PassError(Code.BAD_FORMAT, "bad_field") from None
    return fields, body, signature


def verify_vehicle_pass(
    text: object, keys: KeySet, *, community_id: int, now: datetime
) -> VehiclePassCheck:
    """Check a presented vehicle pass; never raises for any input.

    Order (first failure wins), as :func:`passes.verify_pass`: ``bad_format`` ->
    ``unknown_key`` -> ``bad_signature`` -> ``key_revoked`` -> ``key_not_valid`` (issued
    outside the key's signing period) -> ``wrong_community`` -> ``not_yet_valid`` ->
    ``expired`` (valid from ``issued_at`` through ``valid_until`` inclusive). Revocation,
    the household and the typed plate are the decision's
    (:func:`passes.vehicle_decision.decide_vehicle`).
    """
    try:
        fields, body, signature = parse_vehicle_pass(text)
    except PassError as exc:
        return VehiclePassRejected(exc.code, exc.detail)
    candidates = keys.candidates(fields.key_id)
    if not candidates:
        return VehiclePassRejected(Code.UNKNOWN_KEY, "unknown_key")
    message = VEHICLE_SIGNING_CONTEXT + body
    key = next((k for k in candidates if k.verifies(message, signature)), None)
    if key is None:
        return VehiclePassRejected(Code.BAD_SIGNATURE, "bad_signature")
    if key.status is KeyStatus.REVOKED:
        return VehiclePassRejected(Code.KEY_REVOKED, "key_revoked", fields)
    if not key.covers(fields.issued_at):
        return VehiclePassRejected(Code.KEY_NOT_VALID, "issued_outside_key_period", fields)
    if fields.community_id != community_id:
        return VehiclePassRejected(Code.WRONG_COMMUNITY, "wrong_community", fields)
    if now < fields.issued_at:
        return VehiclePassRejected(Code.NOT_YET_VALID, "not_yet_valid", fields)
    if now > fields.valid_until:
        return VehiclePassRejected(Code.EXPIRED, "expired", fields)
    return VerifiedVehiclePass(fields, key)
