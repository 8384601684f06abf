"""Where a gate's chain starts after a purge: the last purged row, vouched for by a checkpoint.

Rows at or below ``base_seq`` were deleted by a privacy purge (:mod:`gate.privacy`); the chain
is verified from ``base_seq + 1`` with ``prev_hash == base_hash``. ``checkpoint_json`` is the
signed checkpoint (:mod:`gate.verification.checkpoints`) written just before the purge: it
covered every row then present, so the base row's hash was part of a verified, signed log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import Base, UTCDateTime


class ChainBase(Base):
    """One gate's chain start after a purge (no row: the chain starts at its genesis)."""

    __tablename__ = "chain_bases"

    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"), primary_key=True)
    base_seq: Mapped[int] = mapped_column(BigInteger)
    base_hash: Mapped[str] = mapped_column(String(64))
    checkpoint_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checkpoint_json: Mapped[str] = mapped_column(Text)
