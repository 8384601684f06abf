"""The demo compound shows the outsiders' practice (SQLite and PostgreSQL): visitor passes
in each state (active, used once, time-boxed, revoked), walk-ins turned back and deliveries
handed over, all in the log as crossings of their own subject."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing
from gate.demo import build_demo
from gate.visitors.crossing_rows import SUBJECTS
from gate.visitors.models import VisitorPassRecord, WalkIn
from gate.visitors.queries import pass_state

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_the_demo_has_visitors_walk_ins_and_deliveries(db_session: Session, tmp_path: Path) -> None:
    build_demo(db_session, keys_dir=tmp_path, now=NOW, households=6, days=1)
    passes = db_session.scalars(select(VisitorPassRecord)).all()
    assert Counter(pass_state(record, NOW) for record in passes) == Counter(
        {"active": 2, "used": 1, "revoked": 1}
    )
    outcomes = Counter(walk_in.outcome.value for walk_in in db_session.scalars(select(WalkIn)))
    assert outcomes == Counter({"turned_back": 3, "handed_over": 3})
    subjects = Counter(
        (row.subject, row.allowed, row.code)
        for row in db_session.scalars(select(Crossing).where(Crossing.subject.in_(SUBJECTS)))
    )
    assert subjects == Counter(
        {
            ("walk_in", False, "no_pass"): 3,
            ("delivery", False, "handed_over"): 3,
            ("visitor", True, None): 1,
        }
    )
