"""The purge subtracts what it deletes from the rolled-up per-hour counts, in its own
transaction: after a rolling purge the counts are still the plain count of the log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from privacy_site import T0, build_log, make_site
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing, CrossingQuarterCount
from gate.crossings.quarter_counts import roll_up
from gate.crossings.queries import crossings_per_hour, per_hour_statement
from gate.privacy.purge import purge


def _rolled(session: Session) -> int:
    return int(session.scalar(select(func.sum(CrossingQuarterCount.crossings))) or 0)


def _plain_total(session: Session, community_id: int) -> int:
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=10)
    rows = session.execute(per_hour_statement(community_id, start, end, dialect=_dialect(session)))
    return sum(count for *_, count in rows)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def test_rolling_purge_subtracts_what_it_deletes(db_session: Session, tmp_path: Path) -> None:
    site = make_site(db_session, tmp_path / "keys")
    build_log(db_session, site, days=4)  # 16 crossings
    now = T0 + timedelta(days=10)
    assert roll_up(db_session, now).crossings == 16
    community = site.community.id

    result = purge(
        db_session, community, site.key, now=now, actor="test", before=T0 + timedelta(days=2)
    )

    assert result.crossings == 8
    assert _rolled(db_session) == 8 == _plain_total(db_session, community)
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=6)
    hours = crossings_per_hour(db_session, community, start, end, "Asia/Shanghai")
    assert sum(h.total + h.refused for h in hours) == 8
    assert roll_up(db_session, now).crossings == 0
    left = db_session.scalar(select(func.count()).select_from(Crossing))
    assert left == 8
