"""Quarantine errands (代购 / 代办) and the squads that run them.

An :class:`Errand` is one request of a household in home quarantine (or under a sealed
lockdown zone, 封控区): groceries, medicine, rubbish pickup or something else, with a bounded
free text and a short list of items. It is assigned to one volunteer account or to an
:class:`ErrandSquad` (a named group of volunteers, e.g. 党员先锋队 A 组), and moves
``new -> accepted -> delivered``; ``new`` or ``accepted`` may be ``cancelled``. Rows are
kept when done (the office's record); the privacy purge deletes them with their household
(the foreign key to ``households`` is how it finds them).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, UTCDateTime, text_enum, utcnow

TEXT_MAX = 200
"""Characters of an errand's free text (what to buy, what to do)."""
ITEMS_MAX = 20
ITEM_MAX = 40
NOTE_MAX = 200
"""Characters of a delivery note or a cancellation reason."""
SQUAD_NAME_MAX = 64


class ErrandKind(StrEnum):
    """What the household asks for."""

    GROCERIES = "groceries"
    MEDICINE = "medicine"
    RUBBISH = "rubbish"
    OTHER = "other"


class ErrandStatus(StrEnum):
    """Where an errand stands (see :mod:`gate.errands.status` for the moves)."""

    NEW = "new"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class ErrandSource(StrEnum):
    """Who asked: the office (a clerk or a grid worker) or the resident from the phone page."""

    OFFICE = "office"
    RESIDENT = "resident"


class ErrandSquad(Base):
    """A named group of volunteers that takes errands together (代购小分队, 党员先锋队)."""

    __tablename__ = "errand_squads"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    name: Mapped[str] = mapped_column(String(SQUAD_NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class ErrandSquadMember(Base):
    """A volunteer account in a squad."""

    __tablename__ = "errand_squad_members"
    __table_args__ = (UniqueConstraint("squad_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("errand_squads.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class Errand(Base):
    """One request of a quarantined household.

    ``items`` is one item per line. At most one of ``assignee_user_id`` and ``squad_id`` is
    set (none: not assigned yet). ``accepted_by_user_id`` is the volunteer who took it (a
    squad's errand becomes that member's); ``delivered_at`` is the delivery time.
    """

    __tablename__ = "errands"
    __table_args__ = (
        CheckConstraint("assignee_user_id IS NULL OR squad_id IS NULL", name="one_assignee"),
        Index(None, "community_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    household_id: Mapped[int] = mapped_column(U32, ForeignKey("households.id"), index=True)
    kind: Mapped[ErrandKind] = mapped_column(text_enum(ErrandKind, "errand_kind"))
    text: Mapped[str] = mapped_column(String(TEXT_MAX), default="")
    items: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ErrandStatus] = mapped_column(
        text_enum(ErrandStatus, "errand_status"), default=ErrandStatus.NEW
    )
    source: Mapped[ErrandSource] = mapped_column(text_enum(ErrandSource, "errand_source"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("errand_squads.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_by: Mapped[str | None] = mapped_column(String(64))
    delivery_note: Mapped[str | None] = mapped_column(String(NOTE_MAX))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(String(NOTE_MAX))
