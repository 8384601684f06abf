"""Each crossing records the shift on at its gate (SQLite and PostgreSQL): an online scan the
shift at the server's time, an offline upload the shift at the scan's own time (not at the
upload's), none outside any shift; the hash chain verifies with the shift in it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import START, Compound, assert_chain_intact, build_compound, scan_body
from sqlalchemy import Engine, select

from gate.crossings.models import Crossing
from gate.db import transaction
from gate.devices.models import Gate
from gate.roster.models import DutyShift
from gate.roster.operations import parse_slots, plan_shifts
from passes import Direction

CLAIM: dict[str, object] = {
    "allowed": True,
    "code": None,
    "codes": [],
    "notes": [],
    "rule_version": 1,
}


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2)
    with transaction(built.sessions) as session:
        gate = session.get(Gate, built.gate_id)
        assert gate is not None
        plan_shifts(
            session,
            community_id=built.community_id,
            gate=gate,
            first_day=START.date(),  # 09:00 in Shanghai is 01:00 UTC: the same date
            days=1,
            slots=parse_slots("06:00-14:00,14:00-22:00"),
            actor="test",
        )
    try:
        yield built
    finally:
        built.dispose()


def _shifts(compound: Compound) -> tuple[int, int]:
    with transaction(compound.sessions, read_only=True) as session:
        morning, evening = session.scalars(select(DutyShift.id).order_by(DutyShift.starts_at))
    return morning, evening


def _shift_of(compound: Compound, client_id: str) -> int | None:
    with transaction(compound.sessions, read_only=True) as session:
        return session.scalar(select(Crossing.shift_id).where(Crossing.client_id == client_id))


def test_online_scans_record_the_shift_on_now_and_none_after_the_last_shift(
    compound: Compound,
) -> None:
    morning, evening = _shifts(compound)
    client = compound.client()
    resident = compound.residents[0]
    ids = [str(uuid.uuid4()) for _ in range(3)]
    first = compound.scan(client, resident.pass_text, Direction.OUT, client_id=ids[0])
    assert first.status_code == 200, first.get_json()
    compound.clock.set(START + timedelta(hours=6))  # 15:00
    compound.scan(client, resident.pass_text, Direction.IN, client_id=ids[1])
    compound.clock.set(START + timedelta(hours=14))  # 23:00: nobody planned
    compound.scan(client, resident.pass_text, Direction.OUT, client_id=ids[2])
    with transaction(compound.sessions, read_only=True) as session:
        rows = session.execute(select(Crossing.client_id, Crossing.shift_id)).all()
    stored = dict(rows)
    assert [stored[i] for i in ids] == [morning, evening, None]
    assert assert_chain_intact(compound) == 3


def test_an_offline_upload_records_the_shift_of_its_scan_time_not_of_the_upload(
    compound: Compound,
) -> None:
    morning, _evening = _shifts(compound)
    compound.clock.set(START + timedelta(hours=7))  # uploaded at 16:00
    item = scan_body(
        compound.residents[1].pass_text,
        "out",
        scanned_at=START + timedelta(hours=1),  # 10:00, after the enrolment
        verdict=CLAIM,
    )
    answer = compound.upload(compound.client(), [item])
    assert answer.status_code == 200, answer.get_json()
    assert _shift_of(compound, item["id"]) == morning
    assert assert_chain_intact(compound) == 1
