"""Fixed keys, key sets and signed texts for the decider corpus (tests/js/generate_corpus.py).

Everything here is deterministic: private keys come from fixed seeds and Ed25519 signing is
deterministic, so the same inputs always give the same pass texts and the same corpus file.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from passes import KeyEntry, KeySet, KeyStatus, Pass, ScreenCode, SigningKey, sign_screen_code
from passes.base45 import b45decode, b45encode
from passes.pass_format import PREFIX

COMMUNITY = 7
OTHER_COMMUNITY = 8
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493
"""L, the order of the Ed25519 base point: S + L is the same signature, non-canonically."""


def private_key(name: str) -> Ed25519PrivateKey:
    """A private key derived from ``name`` (test keys only, never used anywhere else)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"corpus/{name}".encode()).digest())


def signing_key(name: str, key_id: int, **entry: object) -> SigningKey:
    """A signing key with a fixed private key and the given public entry fields."""
    private = private_key(name)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return SigningKey(KeyEntry(key_id=key_id, public_key=public, **entry), private)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    """An aware UTC time from ``2026-11-22T08:00:00`` (optionally with milliseconds)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


KEY_PERIOD_START = at("2026-01-01T00:00:00")
KEY_PERIOD_END = at("2026-12-31T23:59:59")

ACTIVE = signing_key("active", 1)
RETIRED = signing_key("retired", 2, status=KeyStatus.RETIRED)
REVOKED = signing_key("revoked", 3, status=KeyStatus.REVOKED)
PERIOD = signing_key("period", 4, not_before=KEY_PERIOD_START, not_after=KEY_PERIOD_END)
SHARED_DECOY = signing_key("shared-decoy", 5)
SHARED = signing_key("shared", 5)
UNLISTED = signing_key("unlisted", 6)
"""Signs passes whose key id no key set lists (``unknown_key``)."""
IMPOSTOR = signing_key("impostor", 1)
"""Claims key id 1 with another private key (``bad_signature``)."""

KEYS = KeySet(tuple(k.entry for k in (ACTIVE, RETIRED, REVOKED, PERIOD, SHARED_DECOY, SHARED)))
"""The community's key set as a gate holds it (two entries share key id 5)."""
KEYSETS = {"main": KEYS, "empty": KeySet(())}


def make_pass(
    key: SigningKey,
    *,
    pass_id: bytes,
    household_id: int,
    issued_at: datetime,
    valid_until: datetime,
    generation: int = 1,
    community_id: int = COMMUNITY,
) -> tuple[Pass, str]:
    """The pass's fields and its text signed by ``key``."""
    fields = Pass(
        key_id=key.entry.key_id,
        pass_id=pass_id,
        household_id=household_id,
        community_id=community_id,
        generation=generation,
        issued_at=issued_at,
        valid_until=valid_until,
    )
    return fields, key.sign(fields)


def screen_code(
    key: SigningKey,
    issued: Pass,
    *,
    valid_from: datetime,
    seconds: int,
    generation: int | None = None,
) -> str:
    """A CS1 text standing for ``issued`` (optionally claiming another generation)."""
    fields = ScreenCode(
        key_id=key.entry.key_id,
        pass_id=issued.pass_id,
        generation=issued.generation if generation is None else generation,
        valid_from=valid_from,
        valid_until=valid_from + timedelta(seconds=seconds),
    )
    return sign_screen_code(key, fields)


def tamper(text: str, byte_index: int, xor: int = 0x01, prefix: str = PREFIX) -> str:
    """``text`` with one decoded byte flipped, re-encoded canonically."""
    raw = bytearray(b45decode(text[len(prefix) :]))
    raw[byte_index] ^= xor
    return prefix + b45encode(bytes(raw))


def malleate(text: str, body_length: int = 33, prefix: str = PREFIX) -> str:
    """``text`` with its signature's S replaced by S + L (the same point maths, a second
    encoding): every strict verifier refuses it."""
    raw = bytearray(b45decode(text[len(prefix) :]))
    s_bytes = raw[body_length + 32 : body_length + 64]
    s = int.from_bytes(s_bytes, "little") + ED25519_ORDER
    if s >= 2**256:
        raise ValueError("S + L does not fit")
    raw[body_length + 32 : body_length + 64] = s.to_bytes(32, "little")
    return prefix + b45encode(bytes(raw))


def reencode(fields: Pass, signature: bytes) -> str:
    """A pass text from raw fields and any 64 bytes of signature."""
    return PREFIX + b45encode(fields.body() + signature)
