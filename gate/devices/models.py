"""Gates and the scanner devices enrolled at them.

A device enrols once with a short-lived code from the office (only its hash is stored) and
then authenticates with a bearer token (only its hash is stored). Revoking a device ends its
token at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gate.community.models import Community
from gate.db import GENESIS_HASH, U32, Base, UTCDateTime, utcnow


class Gate(Base):
    """An entrance (出入口) of a community. Each gate has its own hash chain of crossings."""

    __tablename__ = "gates"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32))
    chain_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    """Sequence number of the last crossing in this gate's hash chain (0: none yet)."""
    chain_hash: Mapped[str] = mapped_column(
        String(64), default=GENESIS_HASH, server_default=GENESIS_HASH
    )
    """Hash of the last crossing in the chain; appending locks this row."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the office closed the gate (None: open). A closed gate keeps its chain and log;
    its scanners are revoked and it takes no new ones until it is reopened."""

    community: Mapped[Community] = relationship()
    devices: Mapped[list[Device]] = relationship(back_populates="gate", order_by="Device.id")


class Device(Base):
    """A scanner at a gate.

    ``last_backlog`` is how many crossings the device reported still waiting to upload at
    ``last_seen_at``; the office shows devices that are silent or behind.
    """

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    enrollment_code_hash: Mapped[str | None] = mapped_column(String(128))
    enrollment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_backlog: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    latest_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The latest ``scanned_at`` among the device's crossings (its clock's high-water mark)."""
    clock_fault_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the device's uploads were last seen going backwards in time (flagged)."""

    gate: Mapped[Gate] = relationship(back_populates="devices")


class PhoneGate(Base):
    """A phone used as a gate (the ``/gate`` page after a volunteer logged in), known by the
    random id the page made for itself (never personal data).

    Written by :func:`gate.devices.phones.note_phone_contact` on the page's bundle fetches and
    uploads: the gate it is at, who was logged in, when it last called and how many crossings
    it said were still waiting to upload then (``last_backlog``; None: it did not say).
    """

    __tablename__ = "phone_gates"

    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"), primary_key=True)
    phone_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_backlog: Mapped[int | None] = mapped_column(Integer)
