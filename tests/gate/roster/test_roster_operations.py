"""The roster's operations and queries on SQLite and PostgreSQL: planning from local slots (one
crossing midnight), idempotent re-planning, overlaps refused with nothing written, copying a
week with its people, assigning accounts and free-text names, coverage, the shift lookup."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from factories import make_gate, make_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role
from gate.audit.models import AuditEvent
from gate.community.models import Community
from gate.devices.models import Gate
from gate.roster.models import Duty, DutyAssignment, DutyShift
from gate.roster.operations import (
    RosterError,
    assign,
    copy_week,
    parse_slots,
    plan_shifts,
    remove_shift,
    unassign,
)
from gate.roster.queries import (
    on_duty,
    shift_at,
    shifts_between,
    uncovered_today,
)

SH = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 12, 7)
SLOTS = "06:00-14:00,14:00-22:00,22:00-06:00"


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH)


def _actions(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("roster.%"))
            .order_by(AuditEvent.id)
        )
    )


def _plan(
    session: Session,
    community: Community,
    *,
    gate: Gate | None = None,
    days: int = 7,
    slots: str = SLOTS,
    needs_supervisor: bool = False,
) -> list[DutyShift]:
    return plan_shifts(
        session,
        community_id=community.id,
        gate=gate or make_gate(session, community, name="南门", code="south"),
        first_day=MONDAY,
        days=days,
        slots=parse_slots(slots),
        needs_supervisor=needs_supervisor,
        actor="office1",
    )


def test_slots_parse_in_clerk_spellings_and_refuse_nonsense() -> None:
    slots = parse_slots("06:00-14:00，14:00~22:00；22:00至06:00 8:00-24:00")
    assert [slot.label() for slot in slots] == [
        "06:00-14:00",
        "14:00-22:00",
        "22:00-06:00",
        "08:00-00:00",
    ]
    for bad in ("", "6-14", "25:00-26:00", "06:00-06:00", "06:61-07:00", "早班"):
        with pytest.raises(RosterError) as caught:
            parse_slots(bad)
        assert caught.value.code == "bad_slots"


def test_a_week_of_three_slots_is_21_shifts_and_the_night_slot_ends_next_morning(
    db_session: Session, community: Community
) -> None:
    shifts = _plan(db_session, community)
    assert len(shifts) == 21
    night = [s for s in shifts if s.starts_at == _local(MONDAY, 22)]
    assert [s.ends_at for s in night] == [_local(MONDAY + timedelta(days=1), 6)]
    assert _actions(db_session) == ["roster.plan"]


def test_planning_the_same_week_again_adds_nothing_and_an_overlap_adds_nothing(
    db_session: Session, community: Community
) -> None:
    gate = make_gate(db_session, community)
    assert len(_plan(db_session, community, gate=gate)) == 21
    assert _plan(db_session, community, gate=gate) == []
    with pytest.raises(RosterError) as caught:
        _plan(db_session, community, gate=gate, slots="08:00-12:00", days=1)
    assert caught.value.code == "overlap"
    count = db_session.scalar(select(func.count()).select_from(DutyShift))
    assert count == 21


def test_shift_at_finds_the_shift_on_at_a_moment_and_none_between_shifts(
    db_session: Session, community: Community
) -> None:
    gate = make_gate(db_session, community)
    shifts = _plan(db_session, community, gate=gate, slots="06:00-14:00,15:00-22:00", days=1)
    morning, evening = sorted(shifts, key=lambda s: s.starts_at)
    assert shift_at(db_session, gate.id, _local(MONDAY, 6)) == morning.id
    assert shift_at(db_session, gate.id, _local(MONDAY, 13, 59)) == morning.id
    assert shift_at(db_session, gate.id, _local(MONDAY, 14)) is None
    assert shift_at(db_session, gate.id, _local(MONDAY, 21).astimezone(UTC)) == evening.id
    assert shift_at(db_session, gate.id, _local(MONDAY, 5)) is None
    other = make_gate(db_session, community)
    assert shift_at(db_session, other.id, _local(MONDAY, 7)) is None


def test_assignees_make_a_shift_covered_and_a_supervisor_is_needed_when_asked(
    db_session: Session, community: Community
) -> None:
    volunteer = make_user(db_session, community, Role.VOLUNTEER, display_name="张三")
    supervisor = make_user(db_session, community, Role.SUPERVISOR, display_name="王主任")
    gate = make_gate(db_session, community)
    (shift,) = _plan(
        db_session, community, gate=gate, slots="06:00-14:00", days=1, needs_supervisor=True
    )
    common = {"community_id": community.id, "shift_id": shift.id, "actor": "office1"}
    at = _local(MONDAY, 8)
    view = on_duty(db_session, gate.id, at)
    assert view is not None
    assert (view.covered, view.gap) == (False, "nobody")

    assign(db_session, username=volunteer.username, duty=Duty.VOLUNTEER, **common)  # type: ignore[arg-type]
    assign(db_session, name="李四（党员先锋队）", duty=Duty.VOLUNTEER, **common)  # type: ignore[arg-type]
    view = on_duty(db_session, gate.id, at)
    assert view is not None
    assert view.gap == "no_supervisor"
    assert view.names == ("张三", "李四（党员先锋队）")

    assign(db_session, username=supervisor.username, duty=Duty.SUPERVISOR, **common)  # type: ignore[arg-type]
    view = on_duty(db_session, gate.id, at)
    assert view is not None
    assert view.covered
    assert view.names == ("张三", "李四（党员先锋队）", "王主任")
    assert uncovered_today(db_session, community.id, at) == []
    assert _actions(db_session) == ["roster.plan"] + ["roster.assign"] * 3


@pytest.mark.parametrize(
    ("role", "duty", "code"),
    [
        (Role.VOLUNTEER, Duty.SUPERVISOR, "not_a_supervisor"),
        (Role.AUDITOR, Duty.VOLUNTEER, "not_gate_staff"),
    ],
)
def test_an_account_whose_role_does_not_fit_the_duty_is_refused(
    db_session: Session, community: Community, role: Role, duty: Duty, code: str
) -> None:
    user = make_user(db_session, community, role)
    (shift,) = _plan(db_session, community, slots="06:00-14:00", days=1)
    with pytest.raises(RosterError) as caught:
        assign(
            db_session,
            community_id=community.id,
            shift_id=shift.id,
            username=user.username,
            duty=duty,
            actor="office1",
        )
    assert caught.value.code == code
    assert db_session.scalar(select(func.count()).select_from(DutyAssignment)) == 0


def test_names_twice_accounts_of_other_communities_and_bare_supervisor_names_are_refused(
    db_session: Session, community: Community
) -> None:
    (shift,) = _plan(db_session, community, slots="06:00-14:00", days=1)
    stranger = make_user(db_session, None, Role.VOLUNTEER)
    common = {"community_id": community.id, "shift_id": shift.id, "actor": "office1"}
    assign(db_session, name="赵六", duty=Duty.VOLUNTEER, **common)  # type: ignore[arg-type]
    cases = [
        ({"name": "赵六", "duty": Duty.VOLUNTEER}, "already_assigned"),
        ({"username": stranger.username, "duty": Duty.VOLUNTEER}, "no_such_user"),
        ({"name": "孙七", "duty": Duty.SUPERVISOR}, "name_is_volunteer"),
        ({"name": "", "duty": Duty.VOLUNTEER}, "name_or_account"),
        ({"name": "x" * 33, "duty": Duty.VOLUNTEER}, "name_or_account"),
    ]
    for fields, code in cases:
        with pytest.raises(RosterError) as caught:
            assign(db_session, **common, **fields)  # type: ignore[arg-type]
        assert caught.value.code == code, fields


def test_copying_last_week_brings_the_people_and_keeps_local_times(
    db_session: Session, community: Community
) -> None:
    gate = make_gate(db_session, community)
    shifts = _plan(db_session, community, gate=gate, slots="06:00-14:00", days=7)
    assign(
        db_session,
        community_id=community.id,
        shift_id=shifts[0].id,
        name="张三",
        duty=Duty.VOLUNTEER,
        actor="office1",
    )
    next_monday = MONDAY + timedelta(days=7)
    copied = copy_week(
        db_session,
        community_id=community.id,
        source_monday=MONDAY,
        target_monday=next_monday,
        actor="office1",
    )
    assert len(copied) == 7
    assert min(s.starts_at for s in copied) == _local(next_monday, 6)
    view = on_duty(db_session, gate.id, _local(next_monday, 7))
    assert view is not None
    assert view.names == ("张三",)
    again = copy_week(
        db_session,
        community_id=community.id,
        source_monday=MONDAY,
        target_monday=next_monday,
        actor="office1",
    )
    assert again == []
    with pytest.raises(RosterError) as caught:
        copy_week(
            db_session,
            community_id=community.id,
            source_monday=MONDAY - timedelta(days=7),
            target_monday=MONDAY,
            actor="office1",
        )
    assert caught.value.code == "nothing_to_copy"


def test_a_shift_that_has_begun_stays_and_a_future_one_is_removed_with_its_people(
    db_session: Session, community: Community
) -> None:
    gate = make_gate(db_session, community)
    first, second = sorted(
        _plan(db_session, community, gate=gate, slots="06:00-14:00", days=2),
        key=lambda s: s.starts_at,
    )
    person = assign(
        db_session,
        community_id=community.id,
        shift_id=second.id,
        name="张三",
        duty=Duty.VOLUNTEER,
        actor="office1",
    )
    now = _local(MONDAY, 9)
    with pytest.raises(RosterError) as caught:
        remove_shift(db_session, community_id=community.id, shift_id=first.id, actor="o", now=now)
    assert caught.value.code == "shift_started"
    remove_shift(db_session, community_id=community.id, shift_id=second.id, actor="o", now=now)
    assert db_session.get(DutyAssignment, person.id) is None
    assert [
        s.id for s in shifts_between(db_session, community.id, now, now + timedelta(days=3))
    ] == [first.id]


def test_unassigning_takes_the_person_off_and_the_shift_shows_up_uncovered_today(
    db_session: Session, community: Community
) -> None:
    gate = make_gate(db_session, community)
    (shift,) = _plan(db_session, community, gate=gate, slots="06:00-14:00", days=1)
    person = assign(
        db_session,
        community_id=community.id,
        shift_id=shift.id,
        name="张三",
        duty=Duty.VOLUNTEER,
        actor="office1",
    )
    now = _local(MONDAY, 5)
    assert uncovered_today(db_session, community.id, now) == []
    unassign(db_session, community_id=community.id, assignment_id=person.id, actor="office1")
    gaps = uncovered_today(db_session, community.id, now)
    assert [(g.id, g.gap) for g in gaps] == [(shift.id, "nobody")]
    # Over by the evening: no longer a gap to fill.
    assert uncovered_today(db_session, community.id, _local(MONDAY, 15)) == []
    assert _actions(db_session)[-1] == "roster.unassign"
