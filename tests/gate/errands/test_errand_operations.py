"""Errand operations on SQLite and PostgreSQL: the status machine, who may move an errand,
the quarantine-only rule, bounds on the text, squads, and one audit event per move."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import Compound
from errand_site import errand_compound, errands, events
from sqlalchemy import Engine

from gate.accounts.models import Role
from gate.db import transaction
from gate.errands.models import ErrandStatus
from gate.errands.operations import (
    ErrandError,
    accept_errand,
    assign_errand,
    cancel_errand,
    create_errand,
    create_squad,
    deliver_errand,
    parse_items,
    runner_doer,
)
from gate.errands.queries import ErrandFilter, list_errands, my_errands
from gate.errands.status import RESIDENT, Doer
from gate.households.models import Household

OFFICE = Doer("office1", role=Role.OFFICE)


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    with errand_compound(db_url, tmp_path) as built:
        yield built


def _create(compound: Compound, by: Doer = OFFICE, resident: int = 0, **options: str) -> int:
    fields = {"kind": "groceries", "text": "两天的蔬菜", "items": "青菜、鸡蛋", **options}
    with transaction(compound.sessions) as session:
        errand = create_errand(
            session,
            community_id=compound.community_id,
            household_code=compound.residents[resident].code,
            by=by,
            now=compound.clock(),
            **fields,
        )
        return errand.id


def _runner(compound: Compound, username: str) -> Doer:
    with transaction(compound.sessions, read_only=True) as session:
        return runner_doer(session, compound.community_id, username)


def _move(compound: Compound, move: str, errand_id: int, by: Doer, **options: str) -> None:
    with transaction(compound.sessions) as session:
        common = {"community_id": compound.community_id, "errand_id": errand_id, "by": by}
        if move == "accept":
            accept_errand(session, now=compound.clock(), **common)
        elif move == "deliver":
            deliver_errand(session, now=compound.clock(), note=options.get("note"), **common)
        elif move == "cancel":
            cancel_errand(session, now=compound.clock(), reason=options.get("reason"), **common)
        else:
            assign_errand(
                session,
                now=compound.clock(),
                assignee=options.get("assignee"),
                squad=options.get("squad"),
                **common,
            )


def test_an_errand_goes_new_accepted_delivered_with_its_times_and_events(
    compound: Compound,
) -> None:
    errand_id = _create(compound, assignee="vol1")
    vol1 = _runner(compound, "vol1")
    compound.clock.advance(minutes=10)
    _move(compound, "accept", errand_id, vol1)
    compound.clock.advance(hours=1)
    _move(compound, "deliver", errand_id, vol1, note="已放门口")
    (row,) = errands(compound)
    assert row.status is ErrandStatus.DELIVERED
    assert row.items == "青菜\n鸡蛋"
    assert row.accepted_by_user_id == vol1.user_id
    assert row.delivered_at == compound.clock()
    assert row.delivered_at - row.created_at == timedelta(minutes=70)
    assert (row.delivered_by, row.delivery_note) == ("vol1", "已放门口")
    actions = [action for action, _ in events(compound)]
    assert actions == ["errand.create", "errand.accept", "errand.deliver"]
    assert events(compound)[0][1] == {"errand": errand_id, "kind": "groceries", "user": "vol1"}


@pytest.mark.parametrize(
    ("household", "expected"), [(1, "not_quarantined"), (None, "no_household")]
)
def test_only_a_quarantined_household_can_have_errands(
    compound: Compound, household: int | None, expected: str
) -> None:
    with pytest.raises(ErrandError) as refused, transaction(compound.sessions) as session:
        create_errand(
            session,
            community_id=compound.community_id,
            household_code=compound.residents[household].code if household else "9-9-999",
            kind="medicine",
            text="降压药",
            by=OFFICE,
            now=compound.clock(),
        )
    assert refused.value.code == expected
    assert errands(compound) == []
    assert events(compound) == []


def test_a_household_under_a_sealed_zone_may_have_errands_while_the_seal_holds(
    compound: Compound,
) -> None:
    from gate.zones.operations import lock_zone
    from passes import ZoneLevel, ZoneScope

    with transaction(compound.sessions) as session:
        household = session.get(Household, compound.residents[1].household_id)
        assert household is not None
        building_id = household.building_id
    with pytest.raises(ErrandError):
        _create(compound, resident=1)
    for level, hours in ((ZoneLevel.CONTROLLED, 0), (ZoneLevel.SEALED, 24)):
        with transaction(compound.sessions) as session:
            lock_zone(
                session,
                community_id=compound.community_id,
                level=level,
                scope=ZoneScope.BUILDING,
                place_id=building_id,
                starts_at=compound.clock() + timedelta(hours=hours),
                ends_at=compound.clock() + timedelta(days=3),
                reason="楼栋封控",
                actor="office1",
            )
    with pytest.raises(ErrandError) as not_yet:  # 管控 is not enough; the seal starts tomorrow
        _create(compound, resident=1)
    assert not_yet.value.code == "not_quarantined"
    compound.clock.advance(hours=25)
    assert _create(compound, resident=1) > 0
    compound.clock.advance(days=3)
    with pytest.raises(ErrandError):
        _create(compound, resident=1)


def test_a_quarantine_that_has_ended_allows_no_new_errand(compound: Compound) -> None:
    compound.clock.advance(days=8)
    with pytest.raises(ErrandError) as refused:
        _create(compound)
    assert refused.value.code == "not_quarantined"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "cake"}, "bad_kind"),
        ({"text": "", "items": ""}, "empty"),
        ({"text": "菜" * 201}, "text_too_long"),
        ({"items": ",".join(str(n) for n in range(21))}, "too_many_items"),
        ({"items": "米" * 41}, "item_too_long"),
        ({"assignee": "vol1", "squad": "甲"}, "one_assignee"),
        ({"assignee": "office1"}, "no_runner"),
        ({"squad": "没有这个队"}, "no_squad"),
    ],
)
def test_bad_requests_are_refused_with_their_code_and_write_nothing(
    compound: Compound, fields: dict[str, str], expected: str
) -> None:
    with pytest.raises(ErrandError) as refused:
        _create(compound, OFFICE, 0, **fields)
    assert refused.value.code == expected
    assert errands(compound) == []


def test_items_are_split_on_lines_and_commas() -> None:
    assert parse_items("大米，食用油、 鸡蛋\n\n青菜 ") == ["大米", "食用油", "鸡蛋", "青菜"]


def test_a_squad_member_accepts_and_the_errand_becomes_theirs_alone(compound: Compound) -> None:
    with transaction(compound.sessions) as session:
        create_squad(
            session,
            community_id=compound.community_id,
            name="党员先锋队A组",
            members=["vol1", "vol2"],
            actor="office1",
        )
    errand_id = _create(compound, squad="党员先锋队A组")
    vol1, vol2 = _runner(compound, "vol1"), _runner(compound, "vol2")
    since = compound.clock() - timedelta(days=1)
    with transaction(compound.sessions, read_only=True) as session:
        for doer in (vol1, vol2):
            rows = my_errands(session, compound.community_id, doer.user_id or 0, since=since)
            assert [row.errand.id for row in rows] == [errand_id]
            assert rows[0].assignee == "党员先锋队A组"
    _move(compound, "accept", errand_id, vol2)
    with pytest.raises(ErrandError) as twice:
        _move(compound, "accept", errand_id, vol1)
    assert twice.value.code == "bad_move"
    with pytest.raises(ErrandError) as not_theirs:
        _move(compound, "deliver", errand_id, vol1)
    assert not_theirs.value.code == "not_allowed"
    with transaction(compound.sessions, read_only=True) as session:
        mine = my_errands(session, compound.community_id, vol1.user_id or 0, since=since)
        assert mine == []  # vol2 took it
        found = list_errands(
            session,
            compound.community_id,
            ErrandFilter(user_id=vol2.user_id),
            timezone="Asia/Shanghai",
        )
        assert [(row.errand.id, row.accepted_by) for row in found] == [(errand_id, "赵师傅")]
    _move(compound, "deliver", errand_id, vol2)
    assert errands(compound)[0].status is ErrandStatus.DELIVERED


def test_who_may_do_what(compound: Compound) -> None:
    errand_id = _create(compound, assignee="vol1")
    vol2 = _runner(compound, "vol2")
    supervisor = _runner(compound, "sup1")
    auditor = Doer("aud1", role=Role.AUDITOR, user_id=999)
    for move, by in [("accept", vol2), ("assign", vol2), ("cancel", supervisor)]:
        with pytest.raises(ErrandError) as refused:
            _move(compound, move, errand_id, by, reason="不需要了", assignee="vol2")
        assert refused.value.code == "not_allowed", (move, by)
    with pytest.raises(ErrandError) as create_refused:
        _create(compound, by=auditor)
    assert create_refused.value.code == "not_allowed"
    assert _create(compound, by=supervisor) > errand_id  # a grid worker may ask for one
    # The office reassigns: the new assignee accepts.
    _move(compound, "assign", errand_id, OFFICE, assignee="vol2")
    _move(compound, "accept", errand_id, vol2)
    # The office may mark delivered on a volunteer's behalf.
    _move(compound, "deliver", errand_id, OFFICE)
    assert errands(compound)[0].delivered_by == "office1"


def test_cancelling_needs_a_reason_and_only_open_errands_can_be_cancelled(
    compound: Compound,
) -> None:
    errand_id = _create(compound)
    with pytest.raises(ErrandError) as no_reason:
        _move(compound, "cancel", errand_id, OFFICE, reason="  ")
    assert no_reason.value.code == "reason_required"
    _move(compound, "cancel", errand_id, OFFICE, reason="已解除隔离")
    for move in ("cancel", "accept", "assign"):
        with pytest.raises(ErrandError) as closed:
            _move(compound, move, errand_id, OFFICE, reason="再次")
        assert closed.value.code in {"bad_move", "not_allowed"}
    row = errands(compound)[0]
    assert (row.status, row.cancel_reason, row.cancelled_by) == (
        ErrandStatus.CANCELLED,
        "已解除隔离",
        "office1",
    )


def test_the_resident_asks_and_withdraws_only_their_own_new_errand(compound: Compound) -> None:
    own = compound.residents[0].household_id
    errand_id = _create(compound, by=RESIDENT)
    assert errands(compound)[0].source.value == "resident"
    with pytest.raises(ErrandError) as foreign, transaction(compound.sessions) as session:
        cancel_errand(
            session,
            community_id=compound.community_id,
            errand_id=errand_id,
            reason=None,
            by=RESIDENT,
            now=compound.clock(),
            household_id=compound.residents[1].household_id,
        )
    assert foreign.value.code == "no_errand"
    _move(compound, "assign", errand_id, OFFICE, assignee="vol1")
    _move(compound, "accept", errand_id, _runner(compound, "vol1"))
    with pytest.raises(ErrandError) as accepted, transaction(compound.sessions) as session:
        cancel_errand(
            session,
            community_id=compound.community_id,
            errand_id=errand_id,
            reason=None,
            by=RESIDENT,
            now=compound.clock(),
            household_id=own,
        )
    assert accepted.value.code == "bad_move"


def test_a_household_may_have_at_most_five_open_requests_from_the_phone(
    compound: Compound,
) -> None:
    for _ in range(5):
        _create(compound, by=RESIDENT)
    with pytest.raises(ErrandError) as refused:
        _create(compound, by=RESIDENT)
    assert refused.value.code == "too_many_open"
    _create(compound)  # the office is not bounded


def test_the_list_filters_by_grid_status_day_and_household(compound: Compound) -> None:
    first = _create(compound)
    compound.clock.advance(days=1)
    second = _create(compound, kind="medicine")
    _move(compound, "cancel", first, OFFICE, reason="重复")
    with transaction(compound.sessions, read_only=True) as session:

        def ids(**where: object) -> list[int]:
            found = list_errands(
                session,
                compound.community_id,
                ErrandFilter(**where),  # type: ignore[arg-type]
                timezone="Asia/Shanghai",
            )
            return [row.errand.id for row in found]

        grid_id = list_errands(
            session, compound.community_id, ErrandFilter(), timezone="Asia/Shanghai"
        )[0].grid_id
        assert ids() == [second, first]  # open first
        assert ids(status=ErrandStatus.CANCELLED) == [first]
        from api_helpers import ZONE

        assert ids(day=compound.clock().astimezone(ZONE).date()) == [second]
        assert ids(grid_id=grid_id) == [second, first]
        assert ids(grid_id=grid_id + 1000) == []
        assert ids(household_code=compound.residents[1].code) == []


def test_two_squad_members_accepting_at_once_one_wins_and_the_other_is_told(
    compound: Compound,
) -> None:
    with transaction(compound.sessions) as session:
        create_squad(
            session,
            community_id=compound.community_id,
            name="代购小分队",
            members=["vol1", "vol2"],
            actor="office1",
        )
    errand_id = _create(compound, squad="代购小分队")
    doers = [_runner(compound, "vol1"), _runner(compound, "vol2")]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(by: Doer) -> None:
        start.wait()
        try:
            _move(compound, "accept", errand_id, by)
            outcomes.append("accepted")
        except ErrandError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=accept, args=(doer,)) for doer in doers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["accepted", "bad_move"]
    (row,) = errands(compound)
    assert row.accepted_by_user_id in {doer.user_id for doer in doers}
    assert [action for action, _ in events(compound)].count("errand.accept") == 1
