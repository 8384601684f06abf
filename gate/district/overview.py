"""The district overview: one row per community the account may open, with the numbers the
office's own overview shows (``gate.crossings.dashboard`` and its queries).

Read-only. "Days" are each community's local days. ``bundle_age`` is how long ago the
community's most silent working scanner last called the server: scanners refresh their
offline bundle every 5 minutes while they can reach it, so this bounds how old the rules,
revocations and household states are that a scanner decides with offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from gate.community.context import current_rules
from gate.community.models import Community
from gate.crossings.dashboard import device_state, gates_with_devices
from gate.crossings.queries import (
    fever_alerts,
    local_day_bounds,
    out_now,
    overdue,
    refused_by_code,
)

SILENT_STATES = frozenset({"offline", "never_connected"})
"""Device states counted as offline: enrolled, yet not heard from lately (or ever)."""


@dataclass(frozen=True)
class CommunityFigures:
    """One community's row of the district overview at one moment."""

    community_id: int
    name: str
    code: str
    out_now: int
    overdue: int
    overdue_tracked: bool
    fevers_today: int
    refusals_today: int
    devices: int
    devices_offline: int
    bundle_age: timedelta | None

    @property
    def needs_attention(self) -> bool:
        """Whether anything in the row calls for a look (overdue, fever, a scanner offline)."""
        return bool(self.overdue or self.fevers_today or self.devices_offline)


def community_figures(session: Session, community: Community, now: datetime) -> CommunityFigures:
    """The overview's numbers for ``community`` at ``now`` (aware UTC)."""
    tz = community.timezone
    today = now.astimezone(ZoneInfo(tz)).date()
    day_start, day_end = local_day_bounds(today, tz)
    rules = current_rules(session, community)
    working = [
        device
        for gate in gates_with_devices(session, community.id)
        for device in gate.devices
        if device_state(device, now) not in ("revoked", "not_enrolled")
    ]
    silent = [device for device in working if device_state(device, now) in SILENT_STATES]
    seen = [device.last_seen_at for device in working if device.last_seen_at is not None]
    bundle_age = now - min(seen) if seen else None
    return CommunityFigures(
        community_id=community.id,
        name=community.name,
        code=community.code,
        out_now=sum(item.people_out for item in out_now(session, community.id, now)),
        overdue=len(overdue(session, community.id, now, rules)),
        overdue_tracked=rules.max_outside_minutes is not None,
        fevers_today=len(fever_alerts(session, community.id, today, tz)),
        refusals_today=sum(
            count for _code, count in refused_by_code(session, community.id, day_start, day_end)
        ),
        devices=len(working),
        devices_offline=len(silent),
        bundle_age=bundle_age,
    )


def district_overview(
    session: Session, community_ids: Iterable[int], now: datetime
) -> list[CommunityFigures]:
    """A row per community of ``community_ids`` (those that exist), in the order given."""
    rows = []
    for community_id in community_ids:
        community = session.get(Community, community_id)
        if community is not None:
            rows.append(community_figures(session, community, now))
    return rows
