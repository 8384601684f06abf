"""Issued passes: one row per signed pass the office has handed out.

A household may hold several copies of one pass (card and phone) and, over time, several
passes; only those with ``status`` active and the household's current generation verify.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gate.db import U16_MAX, U32, Base, UTCDateTime, text_enum, utcnow
from gate.households.models import Household

PASS_ID_BYTES = 12


class PassStatus(StrEnum):
    """Lifecycle of an issued pass. Superseded: a re-issue for the household replaced it."""

    ACTIVE = "active"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class IssuedPass(Base):
    """A signed pass. ``pass_id`` is the 12 random bytes inside it.

    ``manual_code`` is the short code printed under the QR for manual entry when a code will
    not scan; unique per community. ``resident_link_token_hash`` is the hash of the secret in
    the resident's phone link (the phone shows the pass); revoking the link leaves the pass.
    """

    __tablename__ = "passes"
    __table_args__ = (
        UniqueConstraint("community_id", "manual_code"),
        CheckConstraint(f"length(pass_id) = {PASS_ID_BYTES}", name="pass_id_length"),
        CheckConstraint(f"generation BETWEEN 0 AND {U16_MAX}", name="generation_u16"),
        Index(None, "household_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pass_id: Mapped[bytes] = mapped_column(LargeBinary(PASS_ID_BYTES), unique=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    household_id: Mapped[int] = mapped_column(U32, ForeignKey("households.id"))
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.key_id"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[PassStatus] = mapped_column(
        text_enum(PassStatus, "status"),
        default=PassStatus.ACTIVE,
        server_default=PassStatus.ACTIVE.value,
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    manual_code: Mapped[str | None] = mapped_column(String(16))
    resident_link_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    resident_link_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    household: Mapped[Household] = relationship()
