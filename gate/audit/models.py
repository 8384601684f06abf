"""Office audit events: who did what to which record, when and why. Append-only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, BigIntPK, UTCDateTime, utcnow


class AuditEvent(Base):
    """One office action, e.g. ``household.quarantine`` on ``household`` ``"1234"``.

    ``actor`` is the username (or ``system``/``cli:<user>``) at the time, kept as text so the
    record survives renames. ``details_json`` holds before/after values (no plaintext ID
    numbers).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "community_id", "created_at"),
        Index(None, "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    community_id: Mapped[int | None] = mapped_column(U32, ForeignKey("communities.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    details_json: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
