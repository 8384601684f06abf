"""Supervisor cards the office issued: one row per signed card (see :mod:`passes.supervisor_card`).

A card names a supervisor's account (a user with the supervisor or admin role) and is signed
with the community's key. It is revoked, never deleted: the crossings it let through name it,
and a revocation only counts from ``revoked_at`` (an offline override made before then stays
valid when it is uploaded later).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, UTCDateTime, utcnow

CARD_ID_BYTES = 12


class SupervisorCardRecord(Base):
    """A signed supervisor card. ``card_id`` is the 12 random bytes inside it; the card's text
    is re-signed when printed (Ed25519 signatures are deterministic)."""

    __tablename__ = "supervisor_cards"
    __table_args__ = (
        CheckConstraint(f"length(card_id) = {CARD_ID_BYTES}", name="card_id_length"),
        Index(None, "community_id", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[bytes] = mapped_column(LargeBinary(CARD_ID_BYTES), unique=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.key_id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
