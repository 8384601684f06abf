"""The demo's errands: a squad (党员先锋队A组) and requests of the quarantined households in
every status, made through the operations (so the audit trail shows them too)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.errands.operations import (
    accept_errand,
    assign_errand,
    cancel_errand,
    create_errand,
    create_squad,
    deliver_errand,
    runner_doer,
)
from gate.errands.status import RESIDENT, Doer
from gate.households.models import Household
from passes.state import HouseholdStatus

DEMO_ACTOR = "demo"
SQUAD = "党员先锋队A组"
REQUESTS = (
    ("groceries", "两天的蔬菜", "青菜,西红柿,鸡蛋"),
    ("medicine", "常用药", "降压药（硝苯地平）"),
    ("rubbish", "生活垃圾清运", ""),
    ("groceries", "", "大米 5 斤,食用油"),
    ("other", "代缴电费", ""),
    ("medicine", "退烧药", "布洛芬"),
)


def add_demo_errands(session: Session, community_id: int, *, now: datetime) -> int:
    """Errands for the community's quarantined households (new, accepted, delivered,
    cancelled, one asked from the phone), run by the demo's ``volunteer`` and ``supervisor``
    accounts and their squad. Returns how many errands it added (0 without those accounts)."""
    runners = [
        username
        for username in ("volunteer", "supervisor")
        if session.scalar(select(User.id).where(User.username == username)) is not None
    ]
    households = list(
        session.scalars(
            select(Household)
            .where(
                Household.community_id == community_id,
                Household.status == HouseholdStatus.QUARANTINED,
            )
            .order_by(Household.code)
        )
    )
    if not runners or not households:
        return 0
    office = Doer(DEMO_ACTOR, role=Role.OFFICE)
    create_squad(session, community_id=community_id, name=SQUAD, members=runners, actor=DEMO_ACTOR)
    added = 0
    for index, (kind, text, items) in enumerate(REQUESTS):
        household = households[index % len(households)]
        at = now - timedelta(hours=30 - 5 * index)
        by = RESIDENT if index == 5 else office
        errand = create_errand(
            session,
            community_id=community_id,
            household_code=household.code,
            kind=kind,
            text=text,
            items=items,
            squad=SQUAD if index % 2 == 0 and by is office else None,
            assignee=runners[0] if index % 2 == 1 and by is office else None,
            by=by,
            now=at,
        )
        added += 1
        runner = runner_doer(session, community_id, runners[0])
        if index in (0, 1, 2):
            accept_errand(
                session, community_id=community_id, errand_id=errand.id, by=runner, now=at
            )
        if index in (0, 1):
            deliver_errand(
                session,
                community_id=community_id,
                errand_id=errand.id,
                note="已放门口，已电话告知" if index == 0 else None,
                by=runner,
                now=at + timedelta(hours=2),
            )
        if index == 4:
            cancel_errand(
                session,
                community_id=community_id,
                errand_id=errand.id,
                reason="已由家属网上代缴",
                by=office,
                now=at + timedelta(hours=1),
            )
        if index == 3:
            assign_errand(
                session,
                community_id=community_id,
                errand_id=errand.id,
                squad=SQUAD,
                by=office,
                now=at,
            )
    return added
