"""Lockdown zones and per-person counting at the scan API, on SQLite and PostgreSQL: a sealed
building refuses its households' exits (exempt too) with the date in the reason, other
buildings go on; lifting ends it; a grid or compound seal covers every building under it; the
bundle carries the locks so an offline gate decides alike; a rule counting people lets the
volunteer's count use the quota and the people out; operations refuse bad input and audit."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, build_compound, local
from sqlalchemy import Engine, select

from gate.audit.models import AuditEvent
from gate.community.models import Building
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.households.models import Household
from gate.zones.operations import ZoneError, lift_zone, lock_zone, set_zone_end
from gate.zones.queries import bundle_locks, list_locks
from passes import CountKind, HouseholdStatus, Quota, RuleSet, ZoneLevel, ZoneScope, wire


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path / "a", households=3)
    built.clock.set(local(2026, 12, 5, 9))
    try:
        yield built
    finally:
        built.dispose()


@pytest.fixture
def counting(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    rules = RuleSet(
        version=1, quota=Quota(exits=3, length=1), max_out_at_once=3, count=CountKind.PEOPLE
    )
    built = build_compound(db_url, tmp_path / "b", households=2, rules=rules)
    built.clock.set(local(2026, 12, 5, 9))
    try:
        yield built
    finally:
        built.dispose()


def _places(compound: Compound) -> tuple[int, int, int]:
    """(building, compound, grid) ids of the residents' building; the last resident is moved
    to a second building of the same compound."""
    with transaction(compound.sessions) as session:
        first = session.get(Household, compound.residents[0].household_id)
        assert first is not None
        building = first.building
        code = f"9{secrets.token_hex(3)}"
        other = Building(compound=building.compound, name=f"{code}号楼", code=code)
        session.add(other)
        session.flush()
        last = session.get(Household, compound.residents[-1].household_id)
        assert last is not None
        last.building_id = other.id
        return building.id, building.compound_id, building.compound.grid_id


def _lock(compound: Compound, scope: ZoneScope, place: int, **values: Any) -> int:
    with transaction(compound.sessions) as session:
        record = lock_zone(
            session,
            community_id=compound.community_id,
            level=values.pop("level", ZoneLevel.SEALED),
            scope=scope,
            place_id=place,
            starts_at=values.pop("starts_at", compound.clock() - timedelta(hours=1)),
            ends_at=values.pop("ends_at", local(2026, 12, 15)),
            reason=values.pop("reason", "阳性病例所在楼栋"),
            actor="office",
        )
        return record.id


def _exit(compound: Compound, resident: int = 0, **fields: Any) -> dict[str, Any]:
    answer = compound.scan(
        compound.client(), compound.residents[resident].pass_text, "out", **fields
    )
    assert answer.status_code == 200, answer.get_json()
    verdict: dict[str, Any] = answer.get_json()["verdict"]
    return verdict


def test_a_sealed_building_refuses_exits_with_its_end_date_and_other_buildings_go_on(
    compound: Compound,
) -> None:
    building, _, _ = _places(compound)
    _lock(compound, ZoneScope.BUILDING, building)
    verdict = _exit(compound)
    assert (verdict["allowed"], verdict["code"]) == (False, "zone_sealed_building")
    assert verdict["reason_zh"] == "所在楼栋封控中，不得外出（至 12-14）"
    assert _exit(compound, resident=-1)["allowed"] is True
    back = compound.scan(compound.client(), compound.residents[0].pass_text, "in")
    assert back.get_json()["verdict"]["allowed"] is True  # entries stay allowed


def test_a_sealed_building_holds_for_exempt_households_and_a_supervisor_may_override(
    compound: Compound,
) -> None:
    building, _, _ = _places(compound)
    with transaction(compound.sessions) as session:
        row = session.get(Household, compound.residents[0].household_id)
        assert row is not None
        row.status = HouseholdStatus.EXEMPT
    _lock(compound, ZoneScope.BUILDING, building)
    assert _exit(compound)["code"] == "zone_sealed_building"


def test_lifting_ends_the_seal_and_is_audited(compound: Compound) -> None:
    building, _, _ = _places(compound)
    lock_id = _lock(compound, ZoneScope.BUILDING, building, ends_at=None)
    verdict = _exit(compound)
    assert verdict["reason_zh"] == "所在楼栋封控中，不得外出"  # until lifted: no date
    with transaction(compound.sessions) as session:
        lift_zone(
            session,
            community_id=compound.community_id,
            lock_id=lock_id,
            at=compound.clock(),
            actor="office",
        )
    compound.clock.advance(minutes=1)
    assert _exit(compound)["allowed"] is True
    with transaction(compound.sessions, read_only=True) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
        rows = list_locks(session, compound.community_id, now=compound.clock())
    assert {"zone.lock", "zone.lift"} <= actions
    assert rows[0].state(compound.clock()) == "ended"


@pytest.mark.parametrize("scope", [ZoneScope.COMPOUND, ZoneScope.GRID])
def test_a_compound_or_grid_seal_covers_every_building_under_it(
    compound: Compound, scope: ZoneScope
) -> None:
    _, compound_id, grid_id = _places(compound)
    _lock(compound, scope, compound_id if scope is ZoneScope.COMPOUND else grid_id)
    for resident in (0, -1):
        assert _exit(compound, resident)["code"] == f"zone_sealed_{scope.value}"


def test_controlled_and_precaution_zones_decide_by_the_rules(compound: Compound) -> None:
    building, compound_id, _ = _places(compound)
    _lock(compound, ZoneScope.BUILDING, building, level=ZoneLevel.CONTROLLED)
    _lock(compound, ZoneScope.COMPOUND, compound_id, level=ZoneLevel.PRECAUTION)
    assert _exit(compound)["allowed"] is True


def test_a_seal_that_starts_later_holds_from_its_start(compound: Compound) -> None:
    building, _, _ = _places(compound)
    _lock(compound, ZoneScope.BUILDING, building, starts_at=compound.clock() + timedelta(hours=2))
    assert _exit(compound)["allowed"] is True
    compound.scan(compound.client(), compound.residents[0].pass_text, "in")
    compound.clock.advance(hours=3)
    assert _exit(compound)["code"] == "zone_sealed_building"


def test_the_bundle_carries_the_locks_in_the_household_state(compound: Compound) -> None:
    building, _, _ = _places(compound)
    _lock(compound, ZoneScope.BUILDING, building)
    answer = compound.client().get("/api/v1/bundle", headers=compound.headers())
    bundle = wire.Bundle.from_json(answer.get_json())
    states = {state.household_id: state for state in bundle.households}
    sealed = states[compound.residents[0].household_id]
    assert [(z.level, z.scope) for z in sealed.zones] == [(ZoneLevel.SEALED, ZoneScope.BUILDING)]
    assert states[compound.residents[-1].household_id].zones == ()
    with transaction(compound.sessions, read_only=True) as session:
        locked = set(bundle_locks(session, compound.community_id, compound.clock()))
    assert locked == {resident.household_id for resident in compound.residents[:-1]}
    text = json.dumps(answer.get_json(), ensure_ascii=False)
    assert "阳性" not in text  # the reason stays in the office


def test_bad_locks_are_refused_with_nothing_written(compound: Compound) -> None:
    building, _, _ = _places(compound)
    with pytest.raises(ZoneError) as wrong_place:
        _lock(compound, ZoneScope.BUILDING, building + 10_000)
    assert wrong_place.value.code == "no_such_place"
    with pytest.raises(ZoneError) as empty:
        _lock(compound, ZoneScope.BUILDING, building, ends_at=compound.clock() - timedelta(days=1))
    assert empty.value.code == "bad_period"
    with transaction(compound.sessions, read_only=True) as session:
        assert list_locks(session, compound.community_id, now=compound.clock()) == []
    lock_id = _lock(compound, ZoneScope.BUILDING, building)
    with transaction(compound.sessions) as session:
        set_zone_end(
            session,
            community_id=compound.community_id,
            lock_id=lock_id,
            ends_at=local(2026, 12, 20),
            now=compound.clock(),
            actor="office",
        )
    assert _exit(compound)["reason_zh"].endswith("（至 12-19）")


def test_counting_people_uses_the_quota_and_the_people_out(counting: Compound) -> None:
    two = _exit(counting, people=2)
    assert two["allowed"] is True
    too_many = _exit(counting, people=2)  # 2 out of 3 allowed at once: one more fits
    assert (too_many["allowed"], too_many["codes"]) == (False, ["already_out", "quota"])
    assert _exit(counting, people=1)["allowed"] is True
    with transaction(counting.sessions, read_only=True) as session:
        people = list(session.scalars(select(Crossing.people).order_by(Crossing.id)))
    assert people == [2, 2, 1]
    home = counting.scan(counting.client(), counting.residents[0].pass_text, "in", people=3)
    assert home.get_json()["verdict"]["allowed"] is True
    assert _exit(counting)["code"] == "quota"  # 3 of 3 used today


def test_a_bad_people_count_is_refused_as_unreadable(counting: Compound) -> None:
    for people in (0, 21, "2", True):
        answer = counting.scan(
            counting.client(), counting.residents[0].pass_text, "out", people=people
        )
        assert answer.status_code == 422, people
    assert counting.crossing_count() == 0
