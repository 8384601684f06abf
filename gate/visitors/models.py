"""Outsiders at the gate: visitor passes the office issued, and walk-ins registered there.

A visitor pass row keeps what the office needs to call the visitor back (name, phone) and
why they come; the signed pass (:mod:`passes.visitor_pass`) carries none of it. Phones are
stored whole (the office calls back) and shown masked everywhere (``138****5678``).

A walk-in row (无证人员登记) is one registration at a gate: kind, optional plate, phone and
purpose, and its outcome: ``turned_back`` (劝返) or ``handed_over`` (a delivery left at the
gate, nobody entered). Its crossing (``subject='walk_in'`` or ``'delivery'``) is in the log.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, UTCDateTime, text_enum, utcnow

VISITOR_ID_BYTES = 12


class Outcome(StrEnum):
    """What happened to a walk-in at the gate."""

    TURNED_BACK = "turned_back"
    HANDED_OVER = "handed_over"


class VisitorPassRecord(Base):
    """A signed visitor pass. ``pass_id`` is the 12 random bytes inside it; the pass's text
    is re-signed when shown or printed (Ed25519 signatures are deterministic). Revoked or
    used, never deleted: the crossings name it."""

    __tablename__ = "visitor_passes"
    __table_args__ = (
        CheckConstraint(f"length(pass_id) = {VISITOR_ID_BYTES}", name="pass_id_length"),
        Index(None, "community_id", "valid_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pass_id: Mapped[bytes] = mapped_column(LargeBinary(VISITOR_ID_BYTES), unique=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.key_id"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    plate: Mapped[str | None] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(64))
    """Whom the visitor comes to (a household code or a name), as the office typed it."""
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    single_use: Mapped[bool] = mapped_column(Boolean)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_crossing_id: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class WalkIn(Base):
    """One person without a pass registered at a gate, and what became of them."""

    __tablename__ = "walk_ins"
    __table_args__ = (Index(None, "community_id", "registered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"))
    crossing_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    """The crossing recorded for it (set right after the crossing is stored)."""
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[Outcome] = mapped_column(text_enum(Outcome, "walk_in_outcome", length=16))
    plate: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_by: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
