"""What the office's overview shows, read in one go: who is out, who is overdue, today's
fevers and refusals, traffic per hour, and the scanners.

Read-only; the console's dashboard renders it. Days are the community's local days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gate.community.context import current_rules
from gate.community.models import Community
from gate.crossings.queries import (
    FeverAlert,
    HourCount,
    OutNow,
    Overdue,
    crossings_per_hour,
    fever_alerts,
    local_day_bounds,
    out_now,
    overdue,
    refused_by_code,
)
from gate.devices.models import Device, Gate

CHART_DAYS = 7

OFFLINE_AFTER = timedelta(minutes=15)
"""A device silent this long is offline: an idle scanner still calls every 5 min (bundle
refresh), a working one every 15 s."""

DEVICE_STATES = ("revoked", "not_enrolled", "never_connected", "offline", "behind", "normal")
"""What the office sees of a device, most serious first among those that exclude the others."""


def device_state(device: Device, now: datetime) -> str:
    """One of :data:`DEVICE_STATES` for ``device`` at ``now`` (aware UTC).

    ``not_enrolled``: created, its enrolment code not used yet; ``never_connected``: enrolled
    but no contact on record; ``offline``: no contact for :data:`OFFLINE_AFTER`; ``behind``:
    it reported crossings still waiting to upload; ``normal`` otherwise.
    """
    if device.revoked_at is not None:
        return "revoked"
    if device.token_hash is None:
        return "not_enrolled"
    if device.last_seen_at is None:
        return "never_connected"
    if now - device.last_seen_at >= OFFLINE_AFTER:
        return "offline"
    if device.last_backlog:
        return "behind"
    return "normal"


@dataclass(frozen=True)
class Overview:
    """The community right now. ``refused``: today's refusals as (code, count), most first;
    ``hours``: crossings per local hour over the last ``CHART_DAYS`` days; ``gates``: each
    gate with its devices loaded, by code."""

    out_now: list[OutNow]
    overdue: list[Overdue]
    max_outside_minutes: int | None
    fevers: list[FeverAlert]
    refused: list[tuple[str, int]]
    hours: list[HourCount]
    gates: list[Gate]


def overview(session: Session, community: Community, now: datetime) -> Overview:
    """Everything the overview page shows for ``community`` at ``now`` (aware UTC)."""
    tz = community.timezone
    today = now.astimezone(ZoneInfo(tz)).date()
    day_start, day_end = local_day_bounds(today, tz)
    chart_start = local_day_bounds(today - timedelta(days=CHART_DAYS - 1), tz)[0]
    rules = current_rules(session, community)
    return Overview(
        out_now=out_now(session, community.id, now),
        overdue=overdue(session, community.id, now, rules),
        max_outside_minutes=rules.max_outside_minutes,
        fevers=fever_alerts(session, community.id, today, tz),
        refused=list(refused_by_code(session, community.id, day_start, day_end)),
        hours=crossings_per_hour(session, community.id, chart_start, day_end, tz),
        gates=gates_with_devices(session, community.id),
    )


def gates_with_devices(session: Session, community_id: int) -> list[Gate]:
    """The community's gates by code, each with its devices loaded."""
    return list(
        session.scalars(
            select(Gate)
            .where(Gate.community_id == community_id)
            .options(selectinload(Gate.devices))
            .order_by(Gate.code)
        )
    )
