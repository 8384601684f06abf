"""Each household's status over time: one row per change (quarantine, exemption, normal).

The rules' dry run replays past crossings under the status each household had *then*, so a
quarantine set yesterday does not refuse last week's exits. The history is append-only and
written by the household operations themselves (:func:`record_status_change`), never
rebuilt from audit events.

Reading it: the status at instant ``t`` is the last row with ``changed_at <= t``. Before a
household's first row its first row applies: that row is either the household's creation
(nothing to replay before it), the status it had before its first recorded change, or the
status it had when this table was introduced (migration ``0002``; what came before is not
known).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, exists, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gate.db import U32, Base, BigIntPK, UTCDateTime, text_enum, utcnow
from gate.households.models import Household
from passes.state import HouseholdStatus


class HouseholdStatusChange(Base):
    """From ``changed_at`` on (until the household's next row), it had this status.

    ``quarantine_until`` is the UTC instant a quarantine ends by itself (None otherwise).
    Rows are never edited or deleted, except with their household.
    """

    __tablename__ = "household_status_changes"
    __table_args__ = (
        Index(None, "household_id", "changed_at"),
        Index(None, "community_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(U32, ForeignKey("households.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"))
    status: Mapped[HouseholdStatus] = mapped_column(text_enum(HouseholdStatus, "status"))
    quarantine_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class StatusSnapshot:
    """A household's status at one moment (what it had before a change)."""

    status: HouseholdStatus
    quarantine_until: datetime | None

    @classmethod
    def of(cls, household: Household) -> StatusSnapshot:
        return cls(household.status, household.quarantine_until)


def record_status_change(
    session: Session,
    household: Household,
    *,
    previous: StatusSnapshot | None = None,
    at: datetime | None = None,
) -> HouseholdStatusChange:
    """Append the household's status as it is now (after a change, or at its creation).

    Call it from every operation that sets ``household.status``/``quarantine_until``, after
    setting them; ``household.id`` MUST be assigned. ``previous`` is the status it had until
    now: when the household has no history yet (created before the history was kept, or by
    a path that recorded none), it is stored first so that earlier crossings replay under
    it. ``at`` defaults to the current time. Flushes nothing; the caller's unit commits.
    """
    at = at or utcnow()
    if previous is not None and not _has_history(session, household.id):
        since = household.created_at if household.created_at is not None else at
        session.add(_row(household, previous.status, previous.quarantine_until, min(since, at)))
    change = _row(household, household.status, household.quarantine_until, at)
    session.add(change)
    return change


def _row(
    household: Household,
    status: HouseholdStatus,
    until: datetime | None,
    at: datetime,
) -> HouseholdStatusChange:
    return HouseholdStatusChange(
        household_id=household.id,
        community_id=household.community_id,
        status=status,
        quarantine_until=until,
        changed_at=at,
    )


def _has_history(session: Session, household_id: int) -> bool:
    query = select(exists().where(HouseholdStatusChange.household_id == household_id))
    return bool(session.scalar(query))
