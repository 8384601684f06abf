"""Signing keys and the key set a gate verifies against.

The office holds private keys (in files, never in the database or on a gate); gates
hold a :class:`KeySet` of public keys only, so a stolen scanner cannot mint passes.
Several keys verify at once, which is how keys rotate: issue with the new key, retire
the old one (its passes stay valid until their own expiry), or revoke it (its passes
die at once).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from passes.pass_format import Pass, encode_pass, signed_message
from passes.timefmt import format_utc, parse_utc

ED25519 = "ed25519"


class KeyStatus(StrEnum):
    """Lifecycle of a signing key."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


@lru_cache(maxsize=1024)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    """The loaded key for 32 raw bytes; loading costs about a fifth of a verify, and a
    gate checks every pass against the same few keys."""
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class KeyEntry:
    """One public key as a gate knows it.

    ``not_before``/``not_after`` bound when the key may have *signed* (a pass's
    ``issued_at`` must fall inside), not how long its passes live.
    """

    key_id: int
    public_key: bytes
    status: KeyStatus = KeyStatus.ACTIVE
    algorithm: str = ED25519
    not_before: datetime | None = None
    not_after: datetime | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.key_id <= 0xFFFF:
            raise ValueError("key_id must fit 16 bits")
        if self.algorithm != ED25519:
            raise ValueError(f"unsupported algorithm {self.algorithm!r}")
        if len(self.public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is this key's signature of ``message``."""
        try:
            _public_key(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def covers(self, moment: datetime) -> bool:
        """True iff the key was allowed to sign at ``moment``."""
        if self.not_before is not None and moment < self.not_before:
            return False
        return self.not_after is None or moment <= self.not_after

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (public data only)."""
        return {
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
            "status": self.status.value,
            "not_before": format_utc(self.not_before),
            "not_after": format_utc(self.not_after),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyEntry:
        """Inverse of :meth:`to_dict`; raises ValueError on bad data."""
        try:
            return cls(
                key_id=int(data["key_id"]),
                public_key=base64.b64decode(data["public_key"], validate=True),
                status=KeyStatus(data.get("status", "active")),
                algorithm=str(data.get("algorithm", ED25519)),
                not_before=parse_utc(data.get("not_before")),
                not_after=parse_utc(data.get("not_after")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad key entry: {exc}") from None


@dataclass(frozen=True)
class KeySet:
    """Public keys by key id. Two entries may share an id; each is tried."""

    entries: tuple[KeyEntry, ...] = ()
    _by_id: Mapping[int, tuple[KeyEntry, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[int, tuple[KeyEntry, ...]] = {}
        for entry in self.entries:
            by_id[entry.key_id] = (*by_id.get(entry.key_id, ()), entry)
        object.__setattr__(self, "_by_id", by_id)

    def __iter__(self) -> Iterator[KeyEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def candidates(self, key_id: int) -> tuple[KeyEntry, ...]:
        """Every entry registered under ``key_id`` (usually one)."""
        return self._by_id.get(key_id, ())

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-ready form."""
        return [entry.to_dict() for entry in self.entries]

    @classmethod
    def from_list(cls, items: Iterable[Mapping[str, Any]]) -> KeySet:
        """Inverse of :meth:`to_list`."""
        return cls(tuple(KeyEntry.from_dict(item) for item in items))


@dataclass(frozen=True)
class SigningKey:
    """A private signing key with its public entry. Only the office holds these."""

    entry: KeyEntry
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    @classmethod
    def generate(cls, key_id: int, **entry_fields: Any) -> SigningKey:
        """A fresh Ed25519 key from the OS CSPRNG."""
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(KeyEntry(key_id=key_id, public_key=public, **entry_fields), private)

    def sign(self, fields: Pass) -> str:
        """The pass text for ``fields``, signed with this key.

        ``fields.key_id`` MUST equal this key's id.
        """
        if fields.key_id != self.entry.key_id:
            raise ValueError("pass key_id does not match the signing key")
        return encode_pass(fields, self.private_key.sign(signed_message(fields.body())))

    def private_pem(self) -> str:
        """PKCS#8 PEM of the private key (unencrypted: protect the file with mode 0600)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form including the private key."""
        return {**self.entry.to_dict(), "private_key_pem": self.private_pem()}

    def with_status(self, status: KeyStatus) -> SigningKey:
        """The same key with another status."""
        return SigningKey(replace(self.entry, status=status), self.private_key)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SigningKey:
        """Inverse of :meth:`to_dict`; raises ValueError on bad data."""
        entry = KeyEntry.from_dict(data)
        try:
            private = serialization.load_pem_private_key(
                str(data["private_key_pem"]).encode("ascii"), password=None
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("private key is not Ed25519")
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        if public != entry.public_key:
            raise ValueError("private key does not match its public key")
        return cls(entry, private)


def new_pass_id() -> bytes:
    """96 random bits from the OS CSPRNG."""
    return secrets.token_bytes(12)
