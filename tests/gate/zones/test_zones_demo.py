"""The demo has 7号楼 sealed for a week (its four households refused at the gate with the last
day in the reason), the second compound controlled and an ended precaution period; every other
household decides as before (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.context import load_context
from gate.demo import build_demo
from gate.households.models import Household
from gate.issuing.operations import current_pass, pass_text
from gate.zones.demo import SEALED_HOUSEHOLDS
from gate.zones.queries import household_locks, list_locks
from passes import VerifiedPass, ZoneScope, sealing_lock, verify_pass

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_the_demo_seals_building_7_and_nothing_else(db_session: Session, tmp_path: Path) -> None:
    summary = build_demo(db_session, keys_dir=tmp_path, now=NOW, households=6, days=1)
    rows = list_locks(db_session, summary.community_id, now=NOW, current_only=False)
    assert [(row.level.value, row.scope.value, row.state(NOW)) for row in rows] == [
        ("precaution", "grid", "ended"),
        ("controlled", "compound", "in_force"),
        ("sealed", "building", "in_force"),
    ]
    for household in db_session.scalars(select(Household)):
        locks = household_locks(db_session, household.id, NOW)
        assert bool(locks) is (household.id in {item[0] for item in SEALED_HOUSEHOLDS})
        seal = sealing_lock(locks, NOW)
        assert seal is None or seal.scope is ZoneScope.BUILDING


def test_the_sealed_households_passes_verify_even_in_a_one_day_demo(
    db_session: Session, tmp_path: Path
) -> None:
    # Issued "three days ago", but never before the demo's key (made days + 1 ago) may sign.
    summary = build_demo(db_session, keys_dir=tmp_path, now=NOW, households=6, days=1)
    keys = load_context(db_session, summary.community_id).keys
    for household_id, _code, _head in SEALED_HOUSEHOLDS:
        record = current_pass(db_session, db_session.get_one(Household, household_id))
        assert record is not None
        check = verify_pass(
            pass_text(db_session, record), keys, community_id=summary.community_id, now=NOW
        )
        assert isinstance(check, VerifiedPass), check
