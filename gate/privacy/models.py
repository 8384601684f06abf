"""A community's retention setting and where its lockdown stands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, UTCDateTime

DEFAULT_RETENTION_DAYS = 30
"""Crossings and temperatures are kept this many days after the lockdown ends, unless set."""


class CommunityRetention(Base):
    """How long a community keeps crossings after its lockdown ends, and when it ended.

    ``lockdown_ended_at`` is NULL while the lockdown lasts. A purge is due from
    ``lockdown_ended_at + retention_days``. ``last_purge_at`` is the last purge's time.
    """

    __tablename__ = "community_retention"

    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"), primary_key=True)
    retention_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_RETENTION_DAYS, server_default=text(str(DEFAULT_RETENTION_DAYS))
    )
    lockdown_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(64))
    last_purge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
