"""Households and their members.

A household row is also the lock the quota check takes (``SELECT ... FOR UPDATE``): its
``state_json``, ``out_count`` and ``generation`` are what the core's decision reads and a
recorded crossing advances.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gate.community.models import Building, Community
from gate.db import U16_MAX, U32, U32_MAX, Base, UTCDateTime, text_enum, utcnow
from gate.households.relations import Relation
from passes.state import HouseholdStatus


class Household(Base):
    """A household (户). ``id`` is the unsigned 32-bit id carried in its pass.

    ``code`` is the office's address code, e.g. "3-2-401" (building-unit-room), unique per
    community. ``generation`` is the current pass generation: re-issuing bumps it, so every
    older card is dead. ``out_count`` is how many members are out now. ``state_json`` is the
    core's ``HouseholdState`` as JSON (exits in the current window, out-since times).
    ``head_count`` is how many people live there (人数; at least the members listed is not
    required: an office may list only the head); ``note`` the office's 备注.
    """

    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint(f"id BETWEEN 0 AND {U32_MAX}", name="id_u32"),
        CheckConstraint(f"generation BETWEEN 0 AND {U16_MAX}", name="generation_u16"),
        CheckConstraint("out_count >= 0", name="out_count_not_negative"),
        CheckConstraint("head_count >= 1", name="head_count_positive"),
    )

    id: Mapped[int] = mapped_column(U32, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(16))
    room: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[HouseholdStatus] = mapped_column(
        text_enum(HouseholdStatus, "status"),
        default=HouseholdStatus.NORMAL,
        server_default=HouseholdStatus.NORMAL.value,
    )
    quarantine_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(Text)
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    out_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    head_count: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    note: Mapped[str | None] = mapped_column(Text)
    state_json: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    community: Mapped[Community] = relationship()
    building: Mapped[Building] = relationship()
    members: Mapped[list[Member]] = relationship(
        back_populates="household",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Member.id",
    )


class Member(Base):
    """A person in a household. Personal data: shown masked in lists, never put in a pass.

    ``id_number`` is sealed at rest (AES-GCM, ``v1:`` + base64, see
    :mod:`gate.households.id_numbers`: written only by ``seal_id_number`` and read only by
    ``open_id_number``); ``id_number_hash`` is HMAC-SHA256 (hex) of the normalised ID number
    under the ID-hash key, so the office can find a person by exact ID number without any
    plaintext. ``relation`` is the member's relation to the head (与户主关系); None for
    members registered before it was recorded.
    """

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(
        U32, ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(128))  # sealed, never plaintext
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    is_head: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    relation: Mapped[Relation | None] = mapped_column(text_enum(Relation, "relation"))

    household: Mapped[Household] = relationship(back_populates="members")
