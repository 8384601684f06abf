"""Who is on duty, at the gates (SQLite and PostgreSQL): the phone gate shows the names on the
shift on now and when it ends, carries the next shifts for its own clock, and records the shift
on the crossings it sends (the crossing log names the people); a gate with no shift says so."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import NORMAL, START, Compound, add_console_users, build_compound, console_client
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.devices.models import Gate
from gate.roster.models import Duty, DutyShift
from gate.roster.operations import assign, parse_slots, plan_shifts

PASSWORD = "correct-horse-battery"
ZH = {"Accept-Language": "zh-CN"}
SHIFTS = re.compile(r"data-shifts='([^']*)'")
LINE = re.compile(r'id="duty-line"[^>]*>([^<]*)</p>', re.S)


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1)
    add_console_users(
        built, PASSWORD, [("zhang.vol", Role.VOLUNTEER, "张三"), ("office1", Role.OFFICE, "李文员")]
    )
    try:
        yield built
    finally:
        built.dispose()


def _staff(compound: Compound) -> int:
    """Today 08:00-14:00 (张三 and 李四) and 14:00-20:00 (nobody); returns the first's id."""
    with transaction(compound.sessions) as session:
        gate = session.get(Gate, compound.gate_id)
        assert gate is not None
        morning, _evening = plan_shifts(
            session,
            community_id=compound.community_id,
            gate=gate,
            first_day=START.date(),
            days=1,
            slots=parse_slots("08:00-14:00,14:00-20:00"),
            actor="test",
        )
        for fields in ({"username": "zhang.vol"}, {"name": "李四"}):
            assign(
                session,
                community_id=compound.community_id,
                shift_id=morning.id,
                duty=Duty.VOLUNTEER,
                actor="test",
                **fields,
            )
        return morning.id


def test_the_phone_gate_shows_who_is_on_duty_and_records_the_shift(compound: Compound) -> None:
    morning = _staff(compound)
    client = console_client(compound, "zhang.vol", PASSWORD)
    page = client.get("/gate", headers=ZH).get_data(as_text=True)
    line = LINE.search(page)
    assert line is not None
    assert "张三、李四" in line.group(1)
    assert "14:00" in line.group(1)
    found = SHIFTS.search(page)
    assert found is not None
    shifts = json.loads(found.group(1))
    assert [(s["names"], s["until"]) for s in shifts] == [("张三、李四", "14:00"), ("", "20:00")]
    assert shifts[0]["e"] == shifts[1]["s"]

    client_id = str(uuid.uuid4())
    answer = client.post(
        "/gate/scan",
        json={
            "id": client_id,
            "pass": compound.residents[0].pass_text,
            "direction": "out",
            "temperature": NORMAL,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    with transaction(compound.sessions, read_only=True) as session:
        stored = session.scalar(select(Crossing.shift_id).where(Crossing.client_id == client_id))
    assert stored == morning
    # The office's crossing log names who was on duty.
    log = console_client(compound, "office1", PASSWORD).get("/log", headers=ZH)
    assert f'data-shift="{morning}"' in log.get_data(as_text=True)
    assert "张三、李四" in log.get_data(as_text=True)


def test_a_gate_without_a_shift_now_says_so(compound: Compound) -> None:
    _staff(compound)
    compound.clock.set(START + timedelta(hours=12))  # 21:00: after the last shift
    client = console_client(compound, "zhang.vol", PASSWORD)
    page = client.get("/gate", headers=ZH).get_data(as_text=True)
    line = LINE.search(page)
    assert line is not None
    assert "张三" not in line.group(1)
    with transaction(compound.sessions, read_only=True) as session:
        assert session.scalars(select(DutyShift)).all()


def test_the_scanner_bundle_carries_its_gates_shifts_and_the_strip_reads_them(
    compound: Compound,
) -> None:
    from scanner.bundle import Bundle
    from scanner.status import banner_text

    _staff(compound)
    answer = compound.client().get("/api/v1/bundle", headers=compound.headers())
    assert answer.status_code == 200
    body = answer.get_json()
    assert [slot["names"] for slot in body["duty"]] == [["张三", "李四"], []]
    bundle = Bundle.from_dict(body, fetched_at=compound.clock())
    assert banner_text(True, bundle, compound.clock()) == "● 在线 · 值守：张三、李四（至 14:00）"
    # Nothing personal beyond the staff's display names.
    assert compound.residents[0].member_names[0] not in answer.get_data(as_text=True)


def test_a_walk_in_registered_at_the_phone_gate_records_the_shift_too(compound: Compound) -> None:
    morning = _staff(compound)
    client = console_client(compound, "zhang.vol", PASSWORD)
    client.get("/gate", headers=ZH)  # the gate is chosen (the compound has one)
    client_id = str(uuid.uuid4())
    answer = client.post(
        "/gate/walk-in",
        json={"id": client_id, "kind": "visitor", "purpose": "找人", "temperature": NORMAL},
    )
    assert answer.status_code == 200, answer.get_json()
    with transaction(compound.sessions, read_only=True) as session:
        stored = session.scalar(select(Crossing.shift_id).where(Crossing.client_id == client_id))
    assert stored == morning
