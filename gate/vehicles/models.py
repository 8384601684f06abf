"""Residents' cars and their vehicle passes.

A vehicle row is one household's car by its plate (normalised, :mod:`passes.plates`); it is
removed, never deleted (crossings name it). A vehicle pass row is one signed windscreen pass
(:mod:`passes.vehicle_pass`) for a vehicle; a lost card is revoked and a new pass issued, so
a car may have several rows, at most one of them in force.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, UTCDateTime, utcnow

VEHICLE_ID_BYTES = 12


class Vehicle(Base):
    """A household's car. ``plate`` is unique among the community's vehicles not removed
    (checked by :func:`gate.vehicles.registry.add_vehicle`)."""

    __tablename__ = "vehicles"
    __table_args__ = (Index(None, "community_id", "plate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    household_id: Mapped[int] = mapped_column(U32, ForeignKey("households.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    """The plate's form (ordinary, new_energy, ...: :mod:`passes.plates`)."""
    note: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """What the office wrote to tell the car by eye (白色轿车)."""
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(64))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(64))


class VehiclePassRecord(Base):
    """A signed vehicle pass. ``pass_id`` is the 12 random bytes inside it; the text is
    re-signed when printed (Ed25519 signatures are deterministic)."""

    __tablename__ = "vehicle_passes"
    __table_args__ = (
        CheckConstraint(f"length(pass_id) = {VEHICLE_ID_BYTES}", name="pass_id_length"),
        Index(None, "community_id", "valid_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pass_id: Mapped[bytes] = mapped_column(LargeBinary(VEHICLE_ID_BYTES), unique=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    household_id: Mapped[int] = mapped_column(U32, ForeignKey("households.id"))
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.key_id"))
    plate: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
