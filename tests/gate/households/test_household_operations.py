"""Household status changes, household selection, community rules and key lifecycle operations."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from factories import make_building, make_household, make_signing_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.community.context import current_rules
from gate.community.models import Community
from gate.community.models import RuleSet as RuleSetRecord
from gate.community.operations import (
    CommunityError,
    ensure_area,
    ensure_grid,
    find_community,
    retire_signing_key,
    revoke_signing_key,
    save_rules,
)
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.households.operations import (
    HouseholdError,
    find_household,
    quarantine_end,
    select_households,
    set_exempt,
    set_normal,
    set_quarantine,
)
from passes import HouseholdStatus, KeyStatus, Quota, RuleSet, RuleSetError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_quarantine_through_a_date_ends_at_the_next_local_midnight(
    db_session: Session, household: Household
) -> None:
    set_quarantine(
        db_session, household, until=dt.date(2026, 11, 30), actor="clerk", reason="密接", now=NOW
    )

    state = household_state(household)
    last_minute = dt.datetime(2026, 11, 30, 23, 59, tzinfo=SHANGHAI)
    midnight = dt.datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI)
    assert state.is_quarantined(last_minute)
    assert not state.is_quarantined(midnight)
    assert household.quarantine_until == midnight.astimezone(dt.UTC)
    [event] = events(db_session, "household.quarantine")
    assert (event.actor, event.reason, event.subject_id) == ("clerk", "密接", household.code)
    details = json.loads(event.details_json)
    assert details["before"]["status"] == "normal"
    assert details["after"]["status"] == "quarantined"


def test_quarantine_end_is_local_midnight_in_the_community_zone() -> None:
    end = quarantine_end(dt.date(2026, 11, 30), "Asia/Shanghai")
    assert end == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)


def test_a_quarantine_date_in_the_past_is_refused(
    db_session: Session, household: Household
) -> None:
    with pytest.raises(HouseholdError, match="already passed"):
        set_quarantine(
            db_session, household, until=dt.date(2026, 11, 19), actor="c", reason="r", now=NOW
        )
    assert household.status is HouseholdStatus.NORMAL


def test_exempt_and_normal_lift_quarantine_and_are_audited(
    db_session: Session, household: Household
) -> None:
    until = dt.date(2026, 12, 1)
    set_quarantine(db_session, household, until=until, actor="c", reason="r", now=NOW)

    set_exempt(db_session, household, actor="clerk", reason="保供人员")
    assert (household.status, household.quarantine_until) == (HouseholdStatus.EXEMPT, None)
    set_normal(db_session, household, actor="clerk", reason="恢复")

    assert household.status is HouseholdStatus.NORMAL
    assert household.status_reason == "恢复"
    assert [e.reason for e in events(db_session, "household.exempt")] == ["保供人员"]
    assert [e.reason for e in events(db_session, "household.normal")] == ["恢复"]


def test_a_status_change_needs_a_reason(db_session: Session, household: Household) -> None:
    with pytest.raises(HouseholdError, match="reason"):
        set_exempt(db_session, household, actor="clerk", reason="  ")
    assert events(db_session, "household.exempt") == []


def test_find_household_normalises_the_typed_code(
    db_session: Session, community: Community
) -> None:
    made = make_household(db_session, community=community, code="3-2-401A")

    assert find_household(db_session, community, " ３-２-４０１a ") is made
    with pytest.raises(HouseholdError, match="no household"):
        find_household(db_session, community, "9-9-999")


def test_select_households_by_building_and_grid_in_address_order(
    db_session: Session, community: Community
) -> None:
    three = make_building(db_session, community, code="3")
    ten = make_building(db_session, community, code="10")
    rooms = ["1001", "201", "301"]
    for room in rooms:
        make_household(db_session, community=community, building=three, room=room, code=f"3-{room}")
    make_household(db_session, community=community, building=ten, room="101", code="10-101")

    in_three = select_households(db_session, community, building="3")
    assert [h.code for h in in_three] == ["3-201", "3-301", "3-1001"]
    grid = ten.compound.grid
    assert [h.code for h in select_households(db_session, community, grid=grid.name)] == ["10-101"]
    assert [h.code for h in select_households(db_session, community)][-1] == "10-101"
    with pytest.raises(HouseholdError, match="no building"):
        select_households(db_session, community, building="99")
    with pytest.raises(HouseholdError, match="No such household"):
        select_households(db_session, community, codes=["3-201", "nope"])


def test_find_community_picks_the_only_one_or_explains(
    db_session: Session, community: Community
) -> None:
    assert find_community(db_session, None) is community
    assert find_community(db_session, community.code) is community
    with pytest.raises(CommunityError, match="no community"):
        find_community(db_session, "nope")
    db_session.add(Community(id=99, name="二号社区", code="second"))
    db_session.flush()
    with pytest.raises(CommunityError, match="--community"):
        find_community(db_session, None)


def test_ensure_area_and_grid_find_by_code_or_name_and_create_defaults(
    db_session: Session, community: Community
) -> None:
    default_area = ensure_area(db_session, community, None)
    assert (default_area.name, default_area.code) == ("未分片区", "default")
    assert ensure_area(db_session, community, None) is default_area
    named = ensure_area(db_session, community, "一片区")
    assert ensure_area(db_session, community, named.code) is named
    assert ensure_area(db_session, community, None) is default_area
    first = ensure_grid(db_session, named, "第1网格")
    assert ensure_grid(db_session, named, None) is first  # the area's only grid
    ensure_grid(db_session, named, "第2网格")
    with pytest.raises(CommunityError, match="several grids"):
        ensure_grid(db_session, named, None)


def test_save_rules_creates_a_new_current_version_with_an_audit_event(
    db_session: Session, community: Community
) -> None:
    first = save_rules(db_session, community, RuleSet(), actor="clerk")
    second = save_rules(
        db_session,
        community,
        RuleSet(quota=Quota(exits=1, length=2)).to_json(),
        actor="clerk",
        reason="疫情缓和",
    )

    assert (first.version, second.version, community.current_rule_version) == (1, 2, 2)
    assert current_rules(db_session, community).describe_quota() == "每两天可外出一次"
    saved = events(db_session, "rules.save")
    assert [e.subject_id for e in saved] == ["1", "2"]
    assert saved[1].reason == "疫情缓和"


def test_saving_unchanged_rules_adds_no_version(db_session: Session, community: Community) -> None:
    first = save_rules(db_session, community, RuleSet(version=7), actor="clerk")
    again = save_rules(db_session, community, RuleSet(version=9), actor="clerk")

    assert again is first
    assert len(list(db_session.scalars(select(RuleSetRecord)))) == 1


def test_save_rules_refuses_invalid_json(db_session: Session, community: Community) -> None:
    with pytest.raises(RuleSetError):
        save_rules(db_session, community, '{"version": 1, "quota": {"exits": -1}}', actor="c")
    assert community.current_rule_version == 0


def test_retire_then_revoke_a_key_is_audited(db_session: Session, community: Community) -> None:
    key = make_signing_key(db_session, community)

    retire_signing_key(db_session, key, actor="clerk", now=NOW)
    assert (key.status, key.retired_at, key.not_after) == (KeyStatus.RETIRED, NOW, NOW)
    with pytest.raises(CommunityError, match="not active"):
        retire_signing_key(db_session, key, actor="clerk", now=NOW)
    revoke_signing_key(db_session, key, actor="clerk", reason="leaked", now=NOW)

    assert key.status is KeyStatus.REVOKED
    assert [e.subject_id for e in events(db_session, "key.retire")] == [str(key.key_id)]
    [revoked] = events(db_session, "key.revoke")
    assert revoked.reason == "leaked"
    with pytest.raises(CommunityError, match="already revoked"):
        revoke_signing_key(db_session, key, actor="clerk", reason="again", now=NOW)
