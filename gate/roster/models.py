"""Duty shifts at a gate (值守班次) and who is assigned to them.

A shift is a concrete span ``[starts_at, ends_at)`` at one gate, stored in UTC: the office
plans them from local time slots (06:00-14:00, 22:00-06:00 crossing midnight) for a run of
days, so daylight-saving or a slot crossing midnight needs no special case when a crossing
looks its shift up. Shifts of one gate never overlap (checked by the operations), so a
moment at a gate has at most one shift; the crossings record its id (``crossings.shift_id``).

An assignment names a user account (a volunteer, a grid worker, a supervisor) or, for a
volunteer without an account (党员先锋队 members, residents helping out), a free-text name.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, UTCDateTime, text_enum, utcnow


class Duty(StrEnum):
    """What an assignee does on the shift."""

    VOLUNTEER = "volunteer"
    SUPERVISOR = "supervisor"


class DutyShift(Base):
    """One shift at one gate. Removed only before it begins (crossings may name it after)."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        UniqueConstraint("gate_id", "starts_at"),
        Index(None, "community_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    needs_supervisor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Covered only with a supervisor on duty as well (the community asks for one)."""
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DutyAssignment(Base):
    """A person on a shift: an account (``user_id``) or a free-text ``name``, never both."""

    __tablename__ = "duty_assignments"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NULL AND name IS NOT NULL) OR (user_id IS NOT NULL AND name IS NULL)",
            name="account_or_name",
        ),
        UniqueConstraint("shift_id", "user_id"),
        UniqueConstraint("shift_id", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shifts.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str | None] = mapped_column(String(32))
    duty: Mapped[Duty] = mapped_column(text_enum(Duty, "duty"))
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
