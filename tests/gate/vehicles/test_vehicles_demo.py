"""The demo compound shows the vehicle practice (SQLite and PostgreSQL): the rule (闽C local,
outside plates refused), residents' cars with passes in force, and cars in the log as
crossings of subject 'vehicle', one outside plate turned away."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import load_context
from gate.crossings.models import Crossing
from gate.demo import build_demo
from gate.vehicles.demo import DEMO_RULE
from gate.vehicles.registry import vehicle_rows

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_the_demo_has_cars_their_rule_and_an_outside_plate_refused(
    db_session: Session, tmp_path: Path
) -> None:
    summary = build_demo(db_session, keys_dir=tmp_path, now=NOW, households=12, days=1)
    assert load_context(db_session, summary.community_id).rules.vehicles == DEMO_RULE
    rows = vehicle_rows(db_session, summary.community_id)
    assert len(rows) == 3
    assert all(row.pass_in_force is not None for row in rows)
    cars = db_session.scalars(select(Crossing).where(Crossing.subject == "vehicle")).all()
    assert len(cars) == 6
    (offline,) = [car for car in cars if car.offline]
    assert (offline.allowed, offline.conflict, offline.plate) == (True, False, "闽CD23456")
    refused = {(car.plate, car.code) for car in cars if not car.allowed}
    assert ("京A12345", "outside_plate") in refused
    assert any(car.allowed and car.flags == "vehicle_pass" for car in cars)
