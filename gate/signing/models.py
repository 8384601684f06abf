"""Signing keys: the public part and lifecycle. Private keys live in files, never here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U16_MAX, U32, Base, UTCDateTime, text_enum, utcnow
from passes.keys import ED25519, KeyStatus


class SigningKeyRecord(Base):
    """A pass-signing key. ``key_id`` (16-bit) is what a pass names, so it is globally unique.

    ``not_before``/``not_after`` bound when the key may sign (None: unbounded).
    ``private_key_path`` is where the office host keeps the private key file, if it does.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint(f"key_id BETWEEN 0 AND {U16_MAX}", name="key_id_u16"),
        CheckConstraint("length(public_key) = 32", name="public_key_length"),
    )

    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16), default=ED25519, server_default=ED25519)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[KeyStatus] = mapped_column(
        text_enum(KeyStatus, "status"),
        default=KeyStatus.ACTIVE,
        server_default=KeyStatus.ACTIVE.value,
    )
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    private_key_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
