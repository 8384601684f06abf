"""The demo's duty roster: a week of shifts at the demo's gate (three slots a day, from three
days ago to three days ahead), staffed by the demo's volunteer and supervisor accounts and by
party-member squad volunteers and grid workers without accounts, with one gap left today (the
night shift) for the overview to show."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.devices.models import Gate
from gate.roster.models import Duty
from gate.roster.operations import assign, parse_slots, plan_shifts
from gate.roster.queries import community_zone

DEMO_ACTOR = "demo"
SLOTS = "06:00-14:00,14:00-22:00,22:00-06:00"
SQUAD = (
    "张建国（党员先锋队）",
    "李秀英（党员先锋队）",
    "王磊（网格员）",
    "陈桂兰（党员先锋队）",
    "刘洋（网格员）",
    "赵志强（党员先锋队）",
)


def add_demo_roster(session: Session, community_id: int, *, now: datetime) -> int:
    """Plan and staff the demo week at the community's first gate; returns the shifts added.
    Today's night shift (22:00-06:00) is left without anyone."""
    gate = session.scalars(
        select(Gate).where(Gate.community_id == community_id).order_by(Gate.id)
    ).first()
    if gate is None:
        return 0
    accounts = {
        user.role: user.username
        for user in session.scalars(select(User).where(User.community_id == community_id))
        if user.role in (Role.VOLUNTEER, Role.SUPERVISOR)
    }
    today = now.astimezone(community_zone(session, community_id)).date()
    shifts = plan_shifts(
        session,
        community_id=community_id,
        gate=gate,
        first_day=today - timedelta(days=3),
        days=7,
        slots=parse_slots(SLOTS),
        actor=DEMO_ACTOR,
    )
    for index, shift in enumerate(sorted(shifts, key=lambda s: s.starts_at)):
        day, slot = divmod(index, 3)
        if day == 3 and slot == 2:
            continue  # the gap: today's night shift, for the overview to show
        names = [SQUAD[(index + offset) % len(SQUAD)] for offset in (0, 2)][: 1 + (slot < 2)]
        # (username, free-text name, duty)
        people: list[tuple[str | None, str | None, Duty]] = [
            (None, name, Duty.VOLUNTEER) for name in names
        ]
        if slot == 0 and Role.VOLUNTEER in accounts:
            people.append((accounts[Role.VOLUNTEER], None, Duty.VOLUNTEER))
        if slot < 2 and Role.SUPERVISOR in accounts and day % 2 == 0:
            people.append((accounts[Role.SUPERVISOR], None, Duty.SUPERVISOR))
        for username, name, duty in people:
            assign(
                session,
                community_id=community_id,
                shift_id=shift.id,
                duty=duty,
                username=username,
                name=name,
                actor=DEMO_ACTOR,
            )
    return len(shifts)
