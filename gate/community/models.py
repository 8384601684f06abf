"""Communities, their five-level hierarchy, and their versioned rule sets.

community (社区) - area (片区) - grid (网格, one grid worker) - compound (小区) - building (楼栋).
Codes are short, human-typed identifiers, unique among siblings.
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

from gate.db import U32, U32_MAX, Base, UTCDateTime, utcnow
from gate.settings import DEFAULT_TIMEZONE


class Community(Base):
    """A community (社区). ``id`` is the unsigned 32-bit id carried in every pass.

    ``current_rule_version`` 0 means no rule set is stored yet: the core's default rules apply.
    """

    __tablename__ = "communities"
    __table_args__ = (CheckConstraint(f"id BETWEEN 0 AND {U32_MAX}", name="id_u32"),)

    id: Mapped[int] = mapped_column(U32, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    timezone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE
    )
    current_rule_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    rotating_codes_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address: Mapped[str | None] = mapped_column(String(200))
    """Where the community is (shown to the office; optional)."""

    areas: Mapped[list[Area]] = relationship(back_populates="community")


class Area(Base):
    """An area (片区) of a community."""

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32))

    community: Mapped[Community] = relationship(back_populates="areas")
    grids: Mapped[list[Grid]] = relationship(back_populates="area")


class Grid(Base):
    """A grid (网格): the unit one grid worker (网格员) looks after."""

    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("area_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32))
    grid_worker_name: Mapped[str | None] = mapped_column(String(64))
    grid_worker_phone: Mapped[str | None] = mapped_column(String(32))

    area: Mapped[Area] = relationship(back_populates="grids")
    compounds: Mapped[list[Compound]] = relationship(back_populates="grid")


class Compound(Base):
    """A compound (小区): the walled site with the gate."""

    __tablename__ = "compounds"
    __table_args__ = (UniqueConstraint("grid_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32))

    grid: Mapped[Grid] = relationship(back_populates="compounds")
    buildings: Mapped[list[Building]] = relationship(back_populates="compound")


class Building(Base):
    """A building (楼栋); ``code`` is what residents call it, e.g. "3"."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("compound_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compounds.id"))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32))

    compound: Mapped[Compound] = relationship(back_populates="buildings")


class RuleSet(Base):
    """One version of a community's rules, as the core's canonical JSON text.

    Rows are never edited: a change is a new version, and the community's
    ``current_rule_version`` points at it.
    """

    __tablename__ = "rule_sets"
    __table_args__ = (
        UniqueConstraint("community_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    version: Mapped[int] = mapped_column(Integer)
    rules_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
