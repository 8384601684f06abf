"""Cars decided offline and uploaded later (a scanner's ``/api/v1/crossings/batch``, the phone
gate's ``/gate/crossings/batch``), on SQLite and PostgreSQL: stored once in the hash chain with
subject 'vehicle', the plate and the registered car, as the gate decided them (offline), with
no household state moved; a car the gate let in with a pass revoked before it crossed is kept
and flagged a conflict."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, assert_chain_intact, build_compound
from sqlalchemy import Engine, select
from web_helpers import CSRF_META, log_in

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.households.models import Household
from gate.vehicles.issuing import issue_vehicle_pass, revoke_vehicle_pass
from gate.vehicles.registry import add_vehicle
from passes import Direction, RuleSet, wire

PASSWORD = "correct horse battery"
PLATE = "鲁E12345"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1, rules=RuleSet(version=1))
    try:
        yield built
    finally:
        built.dispose()


def _register(compound: Compound) -> str:
    now = compound.clock()
    with transaction(compound.sessions) as session:
        add_vehicle(
            session,
            community_id=compound.community_id,
            household_code=compound.residents[0].code,
            plate=PLATE,
            note="白色轿车",
            actor="office",
            now=now,
        )
        return issue_vehicle_pass(
            session, community_id=compound.community_id, plate=PLATE, actor="office", now=now
        ).text


def _item(text: str, direction: Direction, at: datetime, allowed: bool = True) -> dict[str, Any]:
    return wire.Crossing(
        scan=wire.Scan(
            id=str(uuid.uuid4()),
            pass_text=text,
            direction=direction,
            temperature=None,
            scanned_at=at,
            clock_offset_ms=1200,
        ),
        verdict=wire.Claim(
            allowed=allowed,
            code=None if allowed else "revoked",
            codes=() if allowed else ("revoked",),
            notes=("vehicle_pass",) if allowed else (),
            rule_version=1,
        ),
    ).to_json()


def _crossings(compound: Compound) -> list[Crossing]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(session.scalars(select(Crossing).order_by(Crossing.id)))


def _household_state(compound: Compound) -> tuple[int, str]:
    with transaction(compound.sessions, read_only=True) as session:
        household = session.scalars(select(Household).order_by(Household.id)).first()
        assert household is not None
        return household.out_count, household.state_json


def test_a_scanners_offline_car_is_stored_once_as_a_vehicle(compound: Compound) -> None:
    text = _register(compound)
    before = _household_state(compound)
    at = compound.clock() + timedelta(minutes=5)
    compound.clock.set(at + timedelta(hours=1))
    items = [_item(text, Direction.OUT, at), _item(text, Direction.IN, at + timedelta(minutes=30))]
    client = compound.client()
    answer = compound.upload(client, items)
    assert answer.status_code == 200, answer.get_json()
    assert [r["status"] for r in answer.get_json()["results"]] == ["stored", "stored"]
    again = compound.upload(client, items).get_json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    out, back = _crossings(compound)
    assert (out.subject, out.plate, out.household_id) == ("vehicle", PLATE, None)
    assert out.subject_id is not None
    assert (out.offline, out.allowed, out.conflict) == (True, True, False)
    assert out.flags == "vehicle_pass"
    assert out.scanned_at == at
    assert out.clock_offset_ms == 1200
    assert back.direction is Direction.IN
    assert _household_state(compound) == before  # the people cross on their own passes
    assert assert_chain_intact(compound) == 2


def test_a_car_let_in_with_a_revoked_pass_is_kept_as_a_conflict(compound: Compound) -> None:
    text = _register(compound)
    with transaction(compound.sessions) as session:
        revoke_vehicle_pass(
            session,
            community_id=compound.community_id,
            plate=PLATE,
            reason="遗失",
            actor="office",
            now=compound.clock(),
        )
    at = compound.clock() + timedelta(minutes=10)
    compound.clock.set(at + timedelta(hours=1))
    refused = _item(text, Direction.IN, at, allowed=False)
    let_in = _item(text, Direction.IN, at + timedelta(minutes=1))
    answer = compound.upload(compound.client(), [refused, let_in]).get_json()
    assert [r["status"] for r in answer["results"]] == ["stored", "stored"]
    assert [(r["conflict"], r["conflict_code"]) for r in answer["results"]] == [
        (False, None),
        (True, "revoked"),
    ]
    first, second = _crossings(compound)
    assert (first.allowed, first.code, first.conflict) == (False, "revoked", False)
    assert (second.allowed, second.conflict, second.conflict_code) == (True, True, "revoked")
    assert {first.subject, second.subject} == {"vehicle"}
    assert assert_chain_intact(compound) == 2


def test_the_phone_gates_upload_stores_a_car_too(compound: Compound) -> None:
    text = _register(compound)
    username = f"vol-{secrets.token_hex(3)}"
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username=username,
            password=PASSWORD,
            role=Role.VOLUNTEER,
            actor="test",
            display_name="李志愿",
        )
    client = compound.client()
    assert log_in(client, username, PASSWORD).status_code == 302
    found = CSRF_META.search(client.get("/gate").get_data(as_text=True))
    assert found
    item = _item(text, Direction.IN, compound.clock() - timedelta(minutes=3))
    headers = {"X-CSRFToken": found.group(1)}
    answer = client.post("/gate/crossings/batch", json={"crossings": [item]}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["results"][0]["status"] == "stored"
    again = client.post("/gate/crossings/batch", json={"crossings": [item]}, headers=headers)
    assert again.get_json()["results"][0]["status"] == "duplicate"
    (stored,) = _crossings(compound)
    assert (stored.subject, stored.plate, stored.offline) == ("vehicle", PLATE, True)
    assert stored.user_id is not None
    assert assert_chain_intact(compound) == 1
