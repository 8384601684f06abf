"""The household status history: written by the household operations, backfilled by
migration 0002, and what the rules' dry run replays (never the audit events' JSON)."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

from factories import make_community, make_crossing, make_device, make_household
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gate.audit.operations import record_event
from gate.community.models import Community
from gate.db import make_engine
from gate.households.importing import apply_import
from gate.households.models import Household
from gate.households.operations import set_exempt, set_normal, set_quarantine
from gate.households.status_history import HouseholdStatusChange
from gate.households.validation import validate_rows
from gate.migrations import upgrade
from gate.rules.dryrun import dry_run, status_history
from passes import HouseholdStatus, RuleSet

LAX = RuleSet(quota=None, exit_hours=None, max_out_at_once=5)


def history(session: Session, household: Household) -> list[tuple[HouseholdStatus, bool]]:
    rows = session.scalars(
        select(HouseholdStatusChange)
        .where(HouseholdStatusChange.household_id == household.id)
        .order_by(HouseholdStatusChange.changed_at, HouseholdStatusChange.id)
    )
    return [(row.status, row.quarantine_until is not None) for row in rows]


def test_each_status_change_appends_one_row_after_the_status_it_replaced(
    db_session: Session, community: Community
) -> None:
    household = make_household(db_session, community=community)
    now = datetime.now(UTC)
    until = (now + timedelta(days=3)).date()

    set_quarantine(db_session, household, until=until, actor="t", reason="密接", now=now)
    set_exempt(db_session, household, actor="t", reason="医护")
    set_normal(db_session, household, actor="t", reason="解除")
    db_session.flush()

    assert history(db_session, household) == [
        (HouseholdStatus.NORMAL, False),  # what it had before its first recorded change
        (HouseholdStatus.QUARANTINED, True),
        (HouseholdStatus.EXEMPT, False),
        (HouseholdStatus.NORMAL, False),
    ]


def test_importing_a_new_household_records_its_status(
    db_session: Session, community: Community
) -> None:
    fields = {
        "household_code": "3-1-401",
        "area": "一片区",
        "grid": "第1网格",
        "building": "3",
        "unit": "1",
        "room": "401",
        "head_name": "张三",
        "phone": "13800138000",
        "status": "居家隔离",
        "quarantine_until": "2026-11-30",
    }
    plan = validate_rows([(2, fields)], today=dt.date(2026, 11, 1))
    assert not plan.errors, plan.errors
    apply_import(db_session, community, plan, id_key=b"k" * 32, actor="clerk")
    db_session.flush()
    household = db_session.scalar(select(Household).where(Household.code == "3-1-401"))
    assert household is not None

    assert history(db_session, household) == [(HouseholdStatus.QUARANTINED, True)]


def test_dry_run_replays_the_status_each_household_had_at_each_crossing(
    db_session: Session, community: Community
) -> None:
    device = make_device(db_session, community=community)
    now = datetime.now(UTC)
    household = make_household(db_session, community=community)
    set_quarantine(
        db_session,
        household,
        until=(now + timedelta(days=5)).date(),
        actor="t",
        reason="密接",
        now=now,
    )
    set_normal(db_session, household, actor="t", reason="解除")
    # Dates the rows as the story goes: created 5 days ago, quarantined 3 days ago, back
    # to normal yesterday.
    rows = db_session.scalars(
        select(HouseholdStatusChange)
        .where(HouseholdStatusChange.household_id == household.id)
        .order_by(HouseholdStatusChange.id)
    ).all()
    for row, days_ago in zip(rows, (5, 3, 1), strict=True):
        row.changed_at = now - timedelta(days=days_ago)
    db_session.flush()
    for days_ago in (4, 2, 0.5):  # before, during and after the quarantine
        make_crossing(db_session, device, household, scanned_at=now - timedelta(days=days_ago))

    result = dry_run(db_session, community.id, LAX, now=now, days=7)

    assert result.crossings == 3
    assert dict(result.refused_by_code) == {"quarantined": 1}
    [example] = result.examples["quarantined"]
    assert example.scanned_at == now - timedelta(days=2)


def test_dry_run_does_not_read_status_from_audit_events(
    db_session: Session, community: Community
) -> None:
    device = make_device(db_session, community=community)
    now = datetime.now(UTC)
    household = make_household(db_session, community=community)
    make_crossing(db_session, device, household, scanned_at=now - timedelta(days=1))
    # An audit event that claims a quarantine, with no status change behind it.
    record_event(
        db_session,
        actor="t",
        action="household.quarantine",
        community_id=community.id,
        subject_type="household",
        subject_id=household.code,
        details={
            "before": {"status": "normal", "quarantine_until": None},
            "after": {
                "status": "quarantined",
                "quarantine_until": (now + timedelta(days=3)).isoformat(),
            },
        },
    )
    db_session.flush()

    assert status_history(db_session, community.id) == {}
    assert dry_run(db_session, community.id, LAX, now=now, days=7).refused == 0


def test_migration_0002_backfills_one_row_per_household_from_its_status(
    fresh_db_url: str,
) -> None:
    upgrade(fresh_db_url, "0001")
    engine = make_engine(fresh_db_url)
    try:
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions.begin() as session:
            community = make_community(session)
            quarantined = make_household(
                session,
                community=community,
                status=HouseholdStatus.QUARANTINED,
                quarantine_until=datetime.now(UTC) + timedelta(days=2),
            )
            normal = make_household(session, community=community)
            # Written with the 0001 schema: the history table does not exist yet.
            session.expunge_all()

        upgrade(fresh_db_url)

        with sessions() as session:
            assert history(session, quarantined) == [(HouseholdStatus.QUARANTINED, True)]
            assert history(session, normal) == [(HouseholdStatus.NORMAL, False)]
            assert {row.community_id for row in session.scalars(select(HouseholdStatusChange))} == {
                community.id
            }
    finally:
        engine.dispose()
