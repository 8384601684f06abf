"""Office queries on the crossing log, each on a small scenario built with record_scan."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from factories import make_user
from sqlalchemy import select
from sqlalchemy.orm import Session

# The site builder and record_scan helper are shared with the audit tests.
from test_audit_chain import Site, make_site, scan

from gate.accounts.models import Role
from gate.audit.models import AuditEvent
from gate.community.context import load_context
from gate.crossings.operations import OfflineClaim, Origin, ScanRequest, record_scan
from gate.crossings.queries import (
    NotReviewable,
    conflicts,
    crossings_per_hour,
    fever_alerts,
    households_without_crossing,
    out_now,
    overdue,
    refused_by_code,
    review_conflict,
)
from gate.verification.log import verify_log
from passes import Direction, RuleSet

TZ = "Asia/Shanghai"
MORNING = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
OUT, IN = Direction.OUT, Direction.IN


@pytest.fixture
def site(db_session: Session) -> Site:
    return make_site(db_session, households=3)


def test_out_now_lists_households_with_people_out_and_for_how_long(
    db_session: Session, site: Site
) -> None:
    a, b, _c = site.households
    scan(db_session, site, a, OUT, MORNING)
    scan(db_session, site, b, OUT, MORNING + timedelta(minutes=10))
    scan(db_session, site, b, IN, MORNING + timedelta(minutes=50))

    [row] = out_now(db_session, site.community.id, MORNING + timedelta(hours=2))

    assert (row.household_id, row.household_code, row.people_out) == (a.id, a.code, 1)
    assert row.out_since == MORNING
    assert row.out_for == timedelta(hours=2)


def test_overdue_lists_households_out_longer_than_the_rules_allow(
    db_session: Session, site: Site
) -> None:
    a, b, _c = site.households
    scan(db_session, site, a, OUT, MORNING)
    scan(db_session, site, b, OUT, MORNING + timedelta(hours=1))
    now = MORNING + timedelta(hours=2)
    rules = RuleSet(timezone=TZ, max_outside_minutes=90)

    [late] = overdue(db_session, site.community.id, now, rules)

    assert (late.household_id, late.people_overdue) == (a.id, 1)
    assert late.overdue_by == timedelta(minutes=30)
    assert overdue(db_session, site.community.id, now, RuleSet(timezone=TZ)) == []


def test_fever_alerts_are_the_fever_verdicts_of_one_local_day(
    db_session: Session, site: Site
) -> None:
    a, b, c = site.households
    scan(db_session, site, a, OUT, MORNING, temperature=381)
    scan(db_session, site, b, OUT, MORNING + timedelta(minutes=5), temperature=366)
    # 2026-11-01 16:30 UTC is already 2026-11-02 in Shanghai.
    scan(db_session, site, c, IN, datetime(2026, 11, 1, 16, 30, tzinfo=UTC), temperature=390)

    [alert] = fever_alerts(db_session, site.community.id, date(2026, 11, 1), TZ)
    [next_day] = fever_alerts(db_session, site.community.id, date(2026, 11, 2), TZ)

    assert (alert.household_id, alert.temperature_tenths, alert.allowed) == (a.id, 381, False)
    assert alert.gate_code == site.gates[0].code
    assert (next_day.household_id, next_day.direction) == (c.id, IN)


def test_crossings_per_hour_buckets_by_local_hour_with_empty_hours(
    db_session: Session, site: Site
) -> None:
    a, b, _c = site.households
    scan(db_session, site, a, OUT, MORNING + timedelta(minutes=10))
    scan(db_session, site, a, OUT, MORNING + timedelta(minutes=40))  # already out: refused
    scan(db_session, site, b, OUT, MORNING + timedelta(minutes=50))
    scan(db_session, site, a, IN, MORNING + timedelta(minutes=65))

    hours = crossings_per_hour(
        db_session, site.community.id, MORNING, MORNING + timedelta(hours=3), TZ
    )

    assert [(h.hour.hour, h.exits, h.entries, h.refused) for h in hours] == [
        (8, 2, 0, 1),
        (9, 0, 1, 0),
        (10, 0, 0, 0),
    ]
    assert str(hours[0].hour.tzinfo) == TZ


def test_crossings_per_hour_lists_25_hours_on_a_dst_fall_back_day(
    db_session: Session, site: Site
) -> None:
    start = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # New York midnight, DST ends at 02:00
    hours = crossings_per_hour(
        db_session, site.community.id, start, start + timedelta(hours=25), "America/New_York"
    )
    assert len(hours) == 25
    assert [h.hour.hour for h in hours[:4]] == [0, 1, 1, 2]


def test_households_without_crossing_lists_never_seen_first(
    db_session: Session, site: Site
) -> None:
    a, b, c = site.households
    now = MORNING + timedelta(days=10)
    scan(db_session, site, a, OUT, now - timedelta(days=1))
    scan(db_session, site, b, OUT, now - timedelta(days=9))

    idle = households_without_crossing(db_session, site.community.id, 7, now)

    assert [(h.household_id, h.last_crossing_at) for h in idle] == [
        (c.id, None),
        (b.id, now - timedelta(days=9)),
    ]


def test_refused_by_code_counts_refusals_most_frequent_first(
    db_session: Session, site: Site
) -> None:
    a, b, _c = site.households
    scan(db_session, site, a, OUT, MORNING)
    scan(db_session, site, a, OUT, MORNING + timedelta(minutes=1))
    scan(db_session, site, a, OUT, MORNING + timedelta(minutes=2))
    scan(db_session, site, b, OUT, MORNING + timedelta(minutes=3), temperature=385)

    counts = refused_by_code(db_session, site.community.id, MORNING, MORNING + timedelta(hours=1))

    assert counts == [("already_out", 2), ("fever", 1)]


def offline_scan(session: Session, site: Site, at: datetime) -> None:
    household = site.households[0]
    request = ScanRequest(
        client_id=str(uuid.uuid4()),
        pass_text=site.passes[household.id],
        direction=OUT,
        temperature=365,
        scanned_at=at,
        operator="志愿者",
    )
    claim = OfflineClaim(allowed=True, code=None, codes=(), notes=(), rule_version=1)
    record_scan(
        session,
        context=load_context(session, site.community.id),
        origin=Origin(gate_id=site.gates[0].id),
        request=request,
        now=at + timedelta(hours=1),
        offline=claim,
    )


def test_conflicts_are_listed_until_reviewed_and_review_is_audited_outside_the_hash(
    db_session: Session, site: Site
) -> None:
    offline_scan(db_session, site, MORNING)
    offline_scan(db_session, site, MORNING + timedelta(minutes=5))  # server: already out
    office = make_user(db_session, site.community, Role.OFFICE, username="office-q")

    [conflict] = conflicts(db_session, site.community.id)
    review_conflict(db_session, conflict, office, "  两人同时外出，已电话核实  ", MORNING)

    assert conflict.conflict_code == "already_out"
    assert conflicts(db_session, site.community.id) == []
    assert conflicts(db_session, site.community.id, reviewed=True) == [conflict]
    assert conflict.conflict_note == "两人同时外出，已电话核实"
    event = db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "crossing.conflict_review")
    )
    assert event is not None
    assert (event.actor, event.subject_id) == ("office-q", str(conflict.id))
    assert json.loads(event.details_json)["conflict_code"] == "already_out"
    assert verify_log(db_session, site.community.id).ok
    with pytest.raises(NotReviewable):
        review_conflict(db_session, conflict, office, "again", MORNING)


def test_crossings_per_hour_folds_quarter_hours_into_half_hour_offset_zones(
    db_session: Session, site: Site
) -> None:
    a, b, _c = site.households
    start = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)  # 15:00 in Kolkata (UTC+05:30)
    scan(db_session, site, a, OUT, start + timedelta(minutes=50))  # 15:50 local
    scan(db_session, site, b, OUT, start + timedelta(minutes=65))  # 16:05 local
    hours = crossings_per_hour(
        db_session, site.community.id, start, start + timedelta(hours=2), "Asia/Kolkata"
    )
    assert [(h.hour.hour, h.hour.minute, h.exits) for h in hours] == [(15, 0, 1), (16, 0, 1)]
