"""The household status history: written by the household operations, backfilled by
migration 0002, and what the rules' dry run replays (never the audit events' JSON)."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

from factories import make_crossing, make_device, make_household
from sqlalchemy import select, text
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
        # Written with the 0001 schema in plain SQL (today's models have later columns).
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [
            ("communities", {"id": 7, "name": "幸福社区", "code": "xf", "created_at": now}),
            ("areas", {"id": 1, "community_id": 7, "name": "一片区", "code": "A1"}),
            ("grids", {"id": 1, "area_id": 1, "name": "第1网格", "code": "G1"}),
            ("compounds", {"id": 1, "grid_id": 1, "name": "幸福小区", "code": "C1"}),
            ("buildings", {"id": 1, "compound_id": 1, "name": "1号楼", "code": "1"}),
        ]
        for number, status in ((10_001, "quarantined"), (10_002, "normal")):
            until = now + timedelta(days=2) if status == "quarantined" else None
            rows.append(
                ("households", {
                    "id": number, "community_id": 7, "building_id": 1, "code": f"1-{number}",
                    "status": status, "quarantine_until": until, "generation": 1,
                    "out_count": 0, "state_json": "{}", "created_at": now, "updated_at": now,
                })
            )  # fmt: skip
        with engine.begin() as connection:
            for table, values in rows:
                columns, marks = ", ".join(values), ", ".join(f":{k}" for k in values)
                connection.execute(
                    text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values
                )

        upgrade(fresh_db_url)

        with sessionmaker(engine)() as session:
            quarantined, normal = session.get(Household, 10_001), session.get(Household, 10_002)
            assert quarantined is not None
            assert normal is not None
            assert history(session, quarantined) == [(HouseholdStatus.QUARANTINED, True)]
            assert history(session, normal) == [(HouseholdStatus.NORMAL, False)]
            assert {row.community_id for row in session.scalars(select(HouseholdStatusChange))} == {
                7
            }
    finally:
        engine.dispose()
