"""Per-hour counts from pre-counted quarter hours are exactly the plain count of the log:
random crossings in two communities, roll-ups at random points, late uploads (old scan
times, new ids), deletions with their subtraction, zones at :30 and :45 offsets, ranges
that do not start or end on a quarter hour; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from test_audit_chain import Site, make_site

from gate.crossings import quarter_counts
from gate.crossings.models import Crossing, CrossingQuarterCount, CrossingRollup
from gate.crossings.quarter_counts import roll_up, subtract_deleted, watermark
from gate.crossings.queries import HourCount, crossings_per_hour, per_hour_statement
from passes import Direction

T = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
ZONES = ("Asia/Shanghai", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla", "Europe/Berlin")


class Log:
    """Random crossings, each gate's ``gate_seq`` counting up."""

    def __init__(self, session: Session, sites: list[Site], seed: int) -> None:
        self.session, self.sites, self.rng = session, sites, random.Random(seed)
        self.seq: dict[int, int] = {}

    def add(self, count: int, start: datetime, days: float) -> None:
        rows: list[dict[str, Any]] = []
        for _ in range(count):
            site = self.rng.choice(self.sites)
            gate = self.rng.choice(site.gates)
            seq = self.seq[gate.id] = self.seq.get(gate.id, 0) + 1
            at = start + timedelta(seconds=self.rng.randrange(int(days * 86400)))
            rows.append(
                {
                    "client_id": str(uuid.UUID(int=self.rng.getrandbits(122), version=4)),
                    "community_id": site.community.id,
                    "gate_id": gate.id,
                    "household_id": self.rng.choice(site.households).id,
                    "direction": self.rng.choice([Direction.OUT, Direction.IN]),
                    "scanned_at": at,
                    "recorded_at": at,
                    "allowed": self.rng.random() < 0.8,
                    "rule_version": 1,
                    "gate_seq": seq,
                    "prev_hash": "0" * 64,
                    "row_hash": "0" * 64,
                }
            )
        self.session.execute(insert(Crossing), rows)
        self.session.flush()


def _plain(
    session: Session, community_id: int, start: datetime, end: datetime, tz: str
) -> list[HourCount]:
    """The per-hour counts straight from the log (what ``crossings_per_hour`` did before)."""
    zone = ZoneInfo(tz)
    dialect = session.get_bind().dialect.name
    hours: dict[datetime, list[int]] = {}
    moment = start
    while moment < end:
        hours.setdefault(_hour(moment, zone), [0, 0, 0])
        moment += timedelta(minutes=15)
    for quarter, direction, allowed, count in session.execute(
        per_hour_statement(community_id, start, end, dialect=dialect)
    ):
        if isinstance(quarter, datetime):
            at = quarter.replace(tzinfo=UTC)
        else:
            at = datetime.fromtimestamp(int(quarter) * 900, UTC)
        counts = hours[_hour(at, zone)]
        counts[2 if not allowed else 0 if direction is Direction.OUT else 1] += count
    return [HourCount(key.astimezone(zone), *c) for key, c in sorted(hours.items())]


def _hour(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _assert_exact(session: Session, sites: list[Site], rng: random.Random) -> None:
    for site in sites:
        for tz in ZONES:
            start = T + timedelta(minutes=rng.randrange(-600, 600), seconds=rng.randrange(60))
            end = start + timedelta(hours=rng.randrange(1, 80), minutes=rng.randrange(60))
            expected = _plain(session, site.community.id, start, end, tz)
            assert crossings_per_hour(session, site.community.id, start, end, tz) == expected
        day = crossings_per_hour(session, site.community.id, T, T + timedelta(days=3), "UTC")
        assert day == _plain(session, site.community.id, T, T + timedelta(days=3), "UTC")
        short = T + timedelta(hours=5, minutes=7)  # less than one whole quarter
        assert crossings_per_hour(
            session, site.community.id, short, short + timedelta(minutes=10), "Asia/Kolkata"
        ) == _plain(
            session, site.community.id, short, short + timedelta(minutes=10), "Asia/Kolkata"
        )


def _rolled_total(session: Session) -> int:
    return int(session.scalar(select(func.sum(CrossingQuarterCount.crossings))) or 0)


def test_rolled_up_counts_are_the_plain_counts_through_late_uploads_and_deletions(
    db_session: Session,
) -> None:
    sites = [make_site(db_session, gates=2, households=3) for _ in range(2)]
    log = Log(db_session, sites, seed=16)
    rng = random.Random(3)
    now = T + timedelta(days=4)

    log.add(500, T - timedelta(hours=6), 3.5)
    _assert_exact(db_session, sites, rng)  # nothing rolled up: all live

    first = roll_up(db_session, now)
    assert first.mark_before == 0
    assert first.crossings == 500
    assert watermark(db_session) == first.mark_after
    assert _rolled_total(db_session) == 500
    _assert_exact(db_session, sites, rng)

    log.add(150, T + timedelta(days=2), 1)  # new crossings, live
    log.add(60, T - timedelta(hours=2), 3)  # late uploads: old scan times, high ids
    _assert_exact(db_session, sites, rng)

    second = roll_up(db_session, now)
    assert second.crossings == 210
    assert roll_up(db_session, now).crossings == 0  # nothing new
    log.add(40, T, 3)
    _assert_exact(db_session, sites, rng)

    # A deletion (as the purge's): rows on both sides of the watermark, subtracted first.
    gate = sites[0].gates[0]
    doomed = (Crossing.gate_id == gate.id) & (Crossing.gate_seq <= log.seq[gate.id] - 5)
    below = db_session.scalar(
        select(func.count()).where(doomed, Crossing.id <= watermark(db_session))
    )
    assert subtract_deleted(db_session, doomed) == below
    db_session.execute(delete(Crossing).where(doomed))
    db_session.flush()
    assert _rolled_total(db_session) == 710 - below
    _assert_exact(db_session, sites, rng)

    roll_up(db_session, now)
    # A range starting within a second that holds crossings: the quarter is not whole.
    at = T + timedelta(hours=5)  # on a quarter hour, crossings at that very second
    Log(db_session, sites[:1], seed=7).add(3, at, 1 / 86400)
    roll_up(db_session, now)
    community = sites[0].community.id
    for start in (at, at + timedelta(microseconds=500_000), at - timedelta(microseconds=1)):
        end = start + timedelta(hours=3)
        assert crossings_per_hour(db_session, community, start, end, "UTC") == _plain(
            db_session, community, start, end, "UTC"
        )
    remaining = db_session.scalar(select(func.count()).select_from(Crossing))
    assert _rolled_total(db_session) == remaining
    assert db_session.scalar(select(func.count()).where(CrossingQuarterCount.crossings <= 0)) == 0
    _assert_exact(db_session, sites, rng)


def test_a_rollup_that_moved_meanwhile_is_read_again(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts and the watermark are read in one statement: a stale watermark (a roll-up
    committed between the two reads) is noticed, and the statement run again."""
    sites = [make_site(db_session, gates=1, households=2)]
    log = Log(db_session, sites, seed=5)
    log.add(120, T, 1)
    roll_up(db_session, T + timedelta(days=2))
    real = quarter_counts.watermark
    monkeypatch.setattr(quarter_counts, "watermark", lambda session: 0)  # stale: before it
    start, end = T, T + timedelta(days=1)
    community = sites[0].community.id
    assert crossings_per_hour(db_session, community, start, end, "Asia/Kolkata") == _plain(
        db_session, community, start, end, "Asia/Kolkata"
    )
    assert real(db_session) > 0


def test_rollup_command_counts_and_says_so(
    committed_engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.cli.crossings import crossings_group

    monkeypatch.setenv("CHECKPOINT_DATABASE_URL", db_url)
    monkeypatch.setenv("CHECKPOINT_ENV", "test")
    monkeypatch.setenv("CHECKPOINT_INSTANCE_DIR", str(tmp_path / "instance"))
    sessions = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with sessions() as setup:
        site = make_site(setup, gates=1, households=2)
        Log(setup, [site], seed=4).add(30, T, 1)
        setup.commit()
    runner = CliRunner()

    first = runner.invoke(crossings_group, ["rollup"])
    again = runner.invoke(crossings_group, ["rollup"])
    helped = runner.invoke(crossings_group, ["rollup", "--help"])

    assert first.exit_code == 0, first.output
    assert "rolled up 30 crossings" in first.output
    assert "rolled up 0 crossings" in again.output
    assert "Example: checkpoint crossings rollup" in helped.output
    with sessions() as reader:
        assert _rolled_total(reader) == 30


def test_rollup_waits_for_a_crossing_still_being_written_below_the_highest_id(
    committed_engine: Engine, db_backend: str
) -> None:
    """PostgreSQL: a crossing with a lower id may commit after one with a higher id. The
    roll-up does not move past it while its transaction runs (it gives up after its wait,
    changing nothing), and counts it once it has committed."""
    if db_backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: the roll-up holds the write lock")
    sessions = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with sessions() as setup:
        sites = [make_site(setup, gates=2, households=2)]
        setup.commit()
        community = sites[0].community.id
    slow, fast = sessions(), sessions()
    try:
        Log(slow, sites, seed=1).add(3, T, 1)  # lower ids, not committed yet
        other = Log(fast, sites, seed=2)
        other.seq = {gate.id: 100 for gate in sites[0].gates}  # no clash with the slow gate_seqs
        other.add(4, T, 1)
        fast.commit()

        with sessions() as roller:
            busy = roll_up(roller, T + timedelta(days=2), wait_s=0.2)
            roller.commit()
        assert busy.writers_busy
        assert busy.mark_after == busy.mark_before == 0

        timer = threading.Timer(0.3, slow.commit)
        timer.start()
        with sessions() as roller:
            done = roll_up(roller, T + timedelta(days=2), wait_s=10)
            roller.commit()
        timer.join()
        assert not done.writers_busy
        assert done.crossings == 7  # the slow ones too, though committed after the roll-up began
        with sessions() as reader:
            assert _rolled_total(reader) == 7
            start, end = T, T + timedelta(days=1)
            assert crossings_per_hour(reader, community, start, end, "Asia/Kolkata") == _plain(
                reader, community, start, end, "Asia/Kolkata"
            )
    finally:
        slow.close()
        fast.close()


def test_the_overview_catches_up_on_postgresql_in_a_read_only_unit(
    committed_engine: Engine, db_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Far behind, the overview rolls up first (a short committed write), then reads; on
    SQLite, or in a writing unit, it only reads (the counts are exact either way)."""
    from gate.crossings import dashboard
    from gate.unit_of_work import UnitOfWork

    monkeypatch.setattr(dashboard, "LAZY_ROLLUP_AFTER", 10)
    monkeypatch.setattr(dashboard, "LAZY_ROLLUP_BATCH", 25)
    sessions = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with sessions() as setup:
        site = make_site(setup, gates=2, households=2)
        Log(setup, [site], seed=9).add(40, T, 2)
        # Everything before this test's crossings is rolled up already: the database may be a
        # worker's, reused, whose ids did not start at 1.
        first = int(setup.scalar(select(func.min(Crossing.id))) or 1)
        setup.merge(
            CrossingRollup(id=quarter_counts._MARK_ROW, last_crossing_id=first - 1, rolled_at=T)
        )
        setup.commit()
    now = T + timedelta(days=2)
    with UnitOfWork(sessions, writes=True) as unit:
        dashboard.overview(unit.session, site.community, now)  # a writing unit: reads only
        assert watermark(unit.session) == first - 1
    with UnitOfWork(sessions, writes=False) as unit:
        seen = dashboard.overview(unit.session, site.community, now)
        mark = watermark(unit.session) - (first - 1)
    assert mark == (25 if db_backend == "postgresql" else 0)  # one batch, committed
    with sessions() as reader:
        assert sum(h.total + h.refused for h in seen.hours) == 40
        assert _rolled_total(reader) == mark
