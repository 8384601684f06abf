"""Who is on duty at a gate, as the gates show it: the names on the shift on now and when it
ends, and the next shifts (so a page or scanner left offline moves on to the next shift by its
own clock). Display names only: nothing of residents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from gate.roster.queries import community_zone, duty_ahead
from passes import wire

DUTY_HOURS = 24
"""How far ahead a gate is told its shifts."""


@dataclass(frozen=True)
class DutySlot:
    """One shift as a gate shows it: start and end (UTC), the names, the local end time."""

    starts_at: datetime
    ends_at: datetime
    names: tuple[str, ...]
    until: str

    def to_json(self) -> dict[str, object]:
        """Epoch seconds and texts: what the phone gate's script reads."""
        return {
            "s": int(self.starts_at.timestamp()),
            "e": int(self.ends_at.timestamp()),
            "names": "、".join(self.names),
            "until": self.until,
        }


def duty_slots(session: Session, gate_id: int, community_id: int, now: datetime) -> list[DutySlot]:
    """The gate's shifts from the one on at ``now`` to :data:`DUTY_HOURS` ahead."""
    zone: ZoneInfo = community_zone(session, community_id)
    return [
        DutySlot(
            view.starts_at,
            view.ends_at,
            view.names,
            f"{view.ends_at.astimezone(zone):%H:%M}",
        )
        for view in duty_ahead(session, gate_id, now, DUTY_HOURS)
    ]


def slot_at(slots: list[DutySlot], now: datetime) -> DutySlot | None:
    """The slot covering ``now`` (None: no shift)."""
    return next((slot for slot in slots if slot.starts_at <= now < slot.ends_at), None)


def bundle_duty(session: Session, gate_id: int, now: datetime) -> tuple[wire.DutySlot, ...]:
    """The gate's shifts from now to :data:`DUTY_HOURS` ahead, for a scanner's bundle (it
    shows the one its clock is in, offline too). Changes only at a shift's edge or when the
    roster changes, so the bundle's ETag stays put in between."""
    return tuple(
        wire.DutySlot(view.starts_at, view.ends_at, view.names)
        for view in duty_ahead(session, gate_id, now, DUTY_HOURS)
    )
