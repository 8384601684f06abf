"""The demo has a week of shifts at its gate, staffed by accounts and squad volunteers, with
exactly one gap today (the night shift) for the overview (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing
from gate.demo import build_demo
from gate.roster.models import DutyAssignment, DutyShift
from gate.roster.queries import on_duty, uncovered_today

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_the_demo_has_a_staffed_week_with_one_gap_tonight(
    db_session: Session, tmp_path: Path
) -> None:
    summary = build_demo(db_session, keys_dir=tmp_path, now=NOW, households=6, days=1)
    assert db_session.scalar(select(func.count()).select_from(DutyShift)) == 21
    assert (db_session.scalar(select(func.count()).select_from(DutyAssignment)) or 0) > 30
    gaps = uncovered_today(db_session, summary.community_id, NOW)
    assert [(gap.gap, gap.starts_at) for gap in gaps] == [
        ("nobody", datetime(2026, 12, 5, 14, 0, tzinfo=UTC))  # 22:00 in Shanghai
    ]
    gate_id = db_session.scalars(select(DutyShift.gate_id)).first()
    assert gate_id is not None
    view = on_duty(db_session, gate_id, NOW)
    assert view is not None
    assert view.names
    assert on_duty(db_session, gate_id, NOW + timedelta(hours=13)) is not None


def test_the_demos_simulated_crossings_name_their_shift(
    db_session: Session, tmp_path: Path
) -> None:
    build_demo(db_session, keys_dir=tmp_path, now=NOW, households=20, days=2)
    scanned = select(func.count()).select_from(Crossing).where(Crossing.subject.is_(None))
    with_shift = db_session.scalar(scanned.where(Crossing.shift_id.is_not(None))) or 0
    assert with_shift > 0  # the shifts exist before the week is simulated
    covered = select(DutyShift.id).where(DutyShift.id == Crossing.shift_id).exists()
    assert db_session.scalar(scanned.where(Crossing.shift_id.is_not(None), ~covered)) == 0
