"""The demo's lockdown zones: 7号楼 (a building added for it, four households) sealed for a week
with a positive case, the second compound under control (管控, exits by the rules) until
lifted, and an earlier precaution period over the first grid, ended. The sealed households'
passes are issued like every other, so scanning one at the demo gate shows the refusal
所在楼栋封控中，不得外出（至 MM-DD）."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.models import Area, Building, Community, Compound, Grid
from gate.households.models import Household, Member
from gate.issuing.operations import issue_pass
from gate.signing.operations import active_signing_key
from gate.zones.operations import lock_zone
from passes import ZoneLevel, ZoneScope

DEMO_ACTOR = "demo"
SEALED_HOUSEHOLDS = (
    (4_000_000_101, "7-1-101", "周建华"),
    (4_000_000_102, "7-1-102", "吴丽娟"),
    (4_000_000_201, "7-1-201", "郑海涛"),
    (4_000_000_202, "7-1-202", "孙美玲"),
)
"""Ids above the rest of the demo's, so lists by id show them last."""


def add_demo_zones(session: Session, community_id: int, *, now: datetime) -> int:
    """Add the demo's locks (and 7号楼 with its households); returns the locks added (0 when
    the community has no second compound to put them in)."""
    community = session.get(Community, community_id)
    compounds = list(
        session.scalars(
            select(Compound)
            .join(Grid, Grid.id == Compound.grid_id)
            .join(Area, Area.id == Grid.area_id)
            .where(Area.community_id == community_id)
            .order_by(Compound.id)
        )
    )
    if community is None or len(compounds) < 2:
        return 0
    zone = ZoneInfo(community.timezone)
    today = now.astimezone(zone).date()
    # Issued three days ago like a card in use, but never before the demo's key may sign.
    may_sign_from = active_signing_key(session, community_id).entry.not_before
    issued_at = now - timedelta(days=3)
    if may_sign_from is not None:
        issued_at = max(issued_at, may_sign_from)
    building = Building(compound=compounds[1], name="7号楼", code="7")
    session.add(building)
    session.flush()
    for household_id, code, head in SEALED_HOUSEHOLDS:
        unit, _sep, room = code.partition("-")[2].partition("-")
        row = Household(
            id=household_id,
            community_id=community_id,
            building_id=building.id,
            code=code,
            unit=unit,
            room=room,
        )
        row.members.append(Member(name=head, is_head=True))
        session.add(row)
        session.flush()
        issue_pass(session, row, actor=DEMO_ACTOR, now=issued_at)

    def midnight(days: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(0), tzinfo=zone).astimezone(UTC)

    locks = (
        (
            ZoneLevel.SEALED,
            ZoneScope.BUILDING,
            building.id,
            midnight(-2),
            midnight(6),
            "7号楼发现阳性病例",
        ),
        (
            ZoneLevel.CONTROLLED,
            ZoneScope.COMPOUND,
            compounds[1].id,
            midnight(-2),
            None,
            "与封控楼栋同一小区",
        ),
        (
            ZoneLevel.PRECAUTION,
            ZoneScope.GRID,
            compounds[0].grid_id,
            midnight(-20),
            midnight(-10),
            None,
        ),
    )
    for level, scope, place_id, starts_at, ends_at, reason in locks:
        lock_zone(
            session,
            community_id=community_id,
            level=level,
            scope=scope,
            place_id=place_id,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            actor=DEMO_ACTOR,
        )
    return len(locks)
