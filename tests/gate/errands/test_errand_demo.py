"""The demo has errands for its quarantined households in every status, run by the demo's
volunteer through the squad 党员先锋队A组, one asked from the phone (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.demo import build_demo
from gate.errands.models import Errand, ErrandSquad
from gate.errands.queries import squads

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def test_the_demo_has_errands_in_every_status_and_a_squad(
    db_session: Session, tmp_path: Path
) -> None:
    summary = build_demo(db_session, keys_dir=tmp_path, now=NOW, households=12, days=1)
    rows = list(db_session.scalars(select(Errand).order_by(Errand.id)))
    assert {row.status.value for row in rows} == {"new", "accepted", "delivered", "cancelled"}
    assert {row.source.value for row in rows} == {"office", "resident"}
    assert all(row.community_id == summary.community_id for row in rows)
    ((squad, members),) = squads(db_session, summary.community_id)
    assert squad.name == "党员先锋队A组"
    assert {user.username for user in members} == {"volunteer", "supervisor"}
    assert db_session.scalar(select(ErrandSquad.id)) == squad.id
