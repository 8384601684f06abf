"""A lockdown-zone lock: one level (封控/管控/防范) over one building, compound or grid, for a
period. Locks are ended (lifted), never deleted: crossings refused under one name it by code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, UTCDateTime, text_enum, utcnow
from passes import ZoneLevel, ZoneScope

_ONE_PLACE = (
    "(scope = 'building' AND building_id IS NOT NULL AND compound_id IS NULL AND grid_id IS NULL)"
    " OR (scope = 'compound' AND compound_id IS NOT NULL AND building_id IS NULL"
    " AND grid_id IS NULL)"
    " OR (scope = 'grid' AND grid_id IS NOT NULL AND building_id IS NULL AND compound_id IS NULL)"
)


class ZoneLockRecord(Base):
    """A lock over a place of the site hierarchy, in force on ``[starts_at, ends_at)``
    (``ends_at`` None: until lifted). Lifting sets ``ends_at`` to the lifting time and
    ``lifted_at``/``lifted_by``."""

    __tablename__ = "zone_locks"
    __table_args__ = (
        CheckConstraint(_ONE_PLACE, name="one_place"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        Index(None, "community_id", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    level: Mapped[ZoneLevel] = mapped_column(text_enum(ZoneLevel, "zone_level"))
    scope: Mapped[ZoneScope] = mapped_column(text_enum(ZoneScope, "zone_scope"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compounds.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(64))

    @property
    def place_id(self) -> int:
        """The id of the building, compound or grid the lock covers."""
        place = {
            ZoneScope.BUILDING: self.building_id,
            ZoneScope.COMPOUND: self.compound_id,
            ZoneScope.GRID: self.grid_id,
        }[self.scope]
        assert place is not None  # the one_place constraint
        return place
