"""What the office's overview shows, read in one go: who is out, who is overdue, today's
fevers and refusals, traffic per hour, and the scanners.

Read-only; the console's dashboard renders it. Days are the community's local days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from gate.community.context import current_rules
from gate.community.models import Community
from gate.crossings.quarter_counts import behind, roll_up
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
from gate.unit_of_work import unit_of

_log = logging.getLogger(__name__)

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


LAZY_ROLLUP_AFTER = 20_000
"""Crossings above the per-hour counts' watermark past which the overview rolls them up."""
LAZY_ROLLUP_BATCH = 1_000_000
"""At most this many ids rolled up by one overview (a first catch-up is spread over views)."""


def catch_up_counts(session: Session, now: datetime) -> None:
    """Roll up the per-hour counts when more than :data:`LAZY_ROLLUP_AFTER` crossings wait
    above the watermark (``checkpoint crossings rollup`` on a timer keeps it near), in a
    short write committed first (``UnitOfWork.write_first``).

    Only on PostgreSQL and in a read-only unit of work: on SQLite the write lock would delay
    the scans. A failure (a busy lock, a writer that did not end in time) is logged and
    changes nothing: the counts are exact anyway, only slower to read.
    """
    unit = unit_of(session)
    if unit is None or unit.writes or session.get_bind().dialect.name != "postgresql":
        return
    if behind(session) <= LAZY_ROLLUP_AFTER:
        return
    try:
        unit.write_first(lambda writing: roll_up(writing, now, wait_s=0.2, limit=LAZY_ROLLUP_BATCH))
    except DBAPIError:
        _log.warning("per-hour counts: roll-up on the overview failed", exc_info=True)


def overview(session: Session, community: Community, now: datetime) -> Overview:
    """Everything the overview page shows for ``community`` at ``now`` (aware UTC); first
    rolls up the per-hour counts if far behind (:func:`catch_up_counts`)."""
    catch_up_counts(session, now)
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
