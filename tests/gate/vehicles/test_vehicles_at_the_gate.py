"""Cars at the gate, on SQLite and PostgreSQL: a registered car's vehicle pass lets it through
(at the phone gate and the scanner API), a typed plate must match it, a revoked pass or a
quarantined household's car going out is refused; a plate typed alone follows the community's
outside-plate rule (外地车辆 refused, or registered); every car is in the log as a crossing
with subject 'vehicle' and its plate, and the chain stays intact."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, assert_chain_intact, build_compound
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from web_helpers import CSRF_META, log_in
from werkzeug.test import TestResponse

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.households.models import Household
from gate.households.operations import set_quarantine
from gate.vehicles.errors import VehicleError
from gate.vehicles.issuing import issue_vehicle_pass, revoke_vehicle_pass
from gate.vehicles.models import Vehicle
from gate.vehicles.registry import add_vehicle, remove_vehicle
from passes import RuleSet
from passes.rules import LocalPlates, OutsidePlates, VehicleRules

PASSWORD = "correct horse battery"
RULES = RuleSet(
    version=1,
    timezone="Asia/Shanghai",
    vehicles=VehicleRules(("鲁E",), LocalPlates.ALLOW, OutsidePlates.REFUSE),
)


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2, rules=RULES)
    try:
        yield built
    finally:
        built.dispose()


@dataclass
class Gate:
    client: FlaskClient
    csrf: str

    def car(self, **fields: Any) -> TestResponse:
        body = {"id": str(uuid.uuid4()), "direction": "in", **fields}
        return self.client.post("/gate/vehicle", json=body, headers={"X-CSRFToken": self.csrf})


def _gate(compound: Compound) -> Gate:
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
    return Gate(client, found.group(1))


def _register(compound: Compound, plate: str = "鲁E12345", resident: int = 0) -> str:
    """Register a car for a resident household and issue its pass: the pass text."""
    now = compound.clock()
    with transaction(compound.sessions) as session:
        add_vehicle(
            session,
            community_id=compound.community_id,
            household_code=compound.residents[resident].code,
            plate=plate,
            note="白色轿车",
            actor="office",
            now=now,
        )
        issued = issue_vehicle_pass(
            session, community_id=compound.community_id, plate=plate, actor="office", now=now
        )
        return issued.text


def _crossings(compound: Compound) -> list[Crossing]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(session.scalars(select(Crossing).order_by(Crossing.id)))


def test_a_registered_car_passes_with_its_pass_and_is_logged_as_a_vehicle(
    compound: Compound,
) -> None:
    text = _register(compound, "鲁ED12345")
    gate = _gate(compound)
    answer = gate.car(**{"pass": text})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["verdict"]["allowed"] is True
    assert body["reason"] == "车辆凭通行证通行"
    assert body["plate"] == "鲁ED12345"
    assert body["label"] == f"鲁ED12345 {compound.residents[0].code}"
    typed = gate.car(**{"pass": text, "plate": "鲁ed 12345", "direction": "out"}).get_json()
    assert typed["verdict"]["allowed"] is True
    (first, second) = _crossings(compound)
    assert (first.subject, first.plate, first.household_id) == ("vehicle", "鲁ED12345", None)
    assert first.subject_id is not None
    assert first.flags == "vehicle_pass"
    assert second.direction.value == "out"
    assert assert_chain_intact(compound) == 2


def test_a_typed_plate_that_differs_from_the_pass_is_refused(compound: Compound) -> None:
    text = _register(compound)
    answer = _gate(compound).car(**{"pass": text, "plate": "鲁E54321"}).get_json()
    assert answer["verdict"]["allowed"] is False
    assert answer["verdict"]["code"] == "plate_mismatch"
    assert answer["reason"] == "车牌与车辆通行证不符"
    assert _crossings(compound)[0].plate == "鲁E54321"


def test_a_revoked_pass_and_a_removed_car_are_refused(compound: Compound) -> None:
    text = _register(compound)
    with transaction(compound.sessions) as session:
        revoke_vehicle_pass(
            session,
            community_id=compound.community_id,
            plate="鲁E12345",
            reason="遗失",
            actor="office",
            now=compound.clock(),
        )
    gate = _gate(compound)
    assert gate.car(**{"pass": text}).get_json()["verdict"]["code"] == "revoked"
    again = _register(compound, "鲁E22222")
    with transaction(compound.sessions) as session:
        remove_vehicle(
            session,
            community_id=compound.community_id,
            plate="鲁E22222",
            reason="已售出",
            actor="office",
            now=compound.clock(),
        )
    assert gate.car(**{"pass": again}).get_json()["verdict"]["code"] == "revoked"
    with transaction(compound.sessions, read_only=True) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"vehicle.add", "vehicle_pass.issue", "vehicle_pass.revoke", "vehicle.remove"} <= actions


def test_a_quarantined_households_car_may_not_go_out(compound: Compound) -> None:
    text = _register(compound)
    with transaction(compound.sessions) as session:
        household = session.get(Household, compound.residents[0].household_id)
        assert household is not None
        until = (compound.clock() + timedelta(days=7)).date()
        set_quarantine(
            session, household, until=until, actor="office", reason="密接", now=compound.clock()
        )
    gate = _gate(compound)
    out = gate.car(**{"pass": text, "direction": "out"}).get_json()
    assert out["verdict"]["code"] == "quarantined"
    assert out["reason"].startswith("居家隔离中，不得外出（至 ")
    assert gate.car(**{"pass": text, "direction": "in"}).get_json()["verdict"]["allowed"]


@pytest.mark.parametrize(
    ("plate", "allowed", "code", "note"),
    [
        ("鲁E88888", True, None, "plate_registered"),
        ("京A12345", False, "outside_plate", ""),
    ],
)
def test_a_typed_plate_alone_follows_the_outside_plate_rule(
    compound: Compound, plate: str, allowed: bool, code: str | None, note: str
) -> None:
    answer = _gate(compound).car(plate=plate).get_json()
    assert answer["verdict"]["allowed"] is allowed
    assert answer["verdict"]["code"] == code
    (crossing,) = _crossings(compound)
    assert (crossing.subject, crossing.plate, crossing.flags) == ("vehicle", plate, note)
    if not allowed:
        assert answer["reason"] == "外地车辆，禁止进入"
        assert answer["label"] == f"{plate} 外地车辆"


def test_an_invalid_plate_is_refused_in_chinese_and_nothing_is_written(
    compound: Compound,
) -> None:
    gate = _gate(compound)
    answer = gate.car(plate="鲁E1234")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "plate_length"
    assert gate.car().status_code == 422  # neither a pass nor a plate
    assert _crossings(compound) == []


def test_the_scanner_api_decides_a_vehicle_pass_and_the_bundle_lists_revoked_ones(
    compound: Compound,
) -> None:
    text = _register(compound)
    client = compound.client()
    answer = compound.scan(client, text, "in")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["verdict"]["allowed"] is True
    assert _crossings(compound)[0].subject == "vehicle"
    with transaction(compound.sessions) as session:
        record = revoke_vehicle_pass(
            session,
            community_id=compound.community_id,
            plate="鲁E12345",
            reason="遗失",
            actor="office",
            now=compound.clock(),
        )
        revoked_hex = record.pass_id.hex()
    bundle = client.get("/api/v1/bundle", headers=compound.headers()).get_json()
    assert revoked_hex in [item.lower() for item in _hex_ids(bundle["revoked_pass_ids"])]


def _hex_ids(values: list[str]) -> list[str]:
    import base64

    out = []
    for value in values:
        try:
            out.append(bytes.fromhex(value).hex())
        except ValueError:
            out.append(base64.b64decode(value + "=" * (-len(value) % 4)).hex())
    return out


def test_one_plate_one_car_and_plate_checks_in_the_register(compound: Compound) -> None:
    _register(compound)
    with transaction(compound.sessions) as session:
        with pytest.raises(VehicleError) as taken:
            add_vehicle(
                session,
                community_id=compound.community_id,
                household_code=compound.residents[1].code,
                plate="鲁e12345",
                actor="office",
                now=compound.clock(),
            )
        assert taken.value.code == "plate_taken"
        with pytest.raises(VehicleError) as bad:
            add_vehicle(
                session,
                community_id=compound.community_id,
                household_code=compound.residents[1].code,
                plate="ABC",
                actor="office",
                now=compound.clock(),
            )
        assert bad.value.code == "plate_province"
    with transaction(compound.sessions, read_only=True) as session:
        assert len(list(session.scalars(select(Vehicle)))) == 1
