"""A revocation racing scans of the same pass, on PostgreSQL (READ COMMITTED, real commits).

Per round, one household's pass: several threads scan it over and over, each scan
``record_scan`` in its own transaction on a real engine, while another thread revokes the pass
(``gate.issuing.operations.revoke_pass``) in its own transaction at a random moment. Each scan
notes ``began``, a clock reading taken before its transaction's first statement (it is also the
crossing's ``recorded_at``, the decision time); the revoker notes ``revoked``, a reading taken
after its COMMIT returned.

Property: no crossing allowed with ``began > revoked``: a scan whose transaction started after
the revocation committed must refuse with ``revoked``. A scan that began earlier may still allow
(it was decided before the revocation became visible), even if it commits after it: that is
counted and printed, not failed. Each round also checks (from the database, not from the
threads' notes) that allowed crossings of the pass all have ``recorded_at <= revoked`` and that
the race was real: some scans allowed before and refused after.

Scans go in (entry is allowed any time with a valid pass), so only the revocation can refuse.
Rounds: 12 (small) / 120 (full), 6 scanning threads.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from gate.community.context import load_context
from gate.crossings.models import Crossing
from gate.crossings.operations import Origin, ScanRequest, record_scan
from gate.db import normalize_url, session_factory, transaction
from gate.demo import build_demo
from gate.devices.models import Device
from gate.households.models import Household
from gate.issuing.models import IssuedPass, PassStatus
from gate.issuing.operations import pass_text, revoke_pass
from gate.migrations import upgrade
from passes import Direction, HouseholdStatus
from tests.faults.compound import MARKS, describe, scaled

if TYPE_CHECKING:
    from tests.conftest import PostgresServer

pytestmark = [*MARKS, pytest.mark.postgres, pytest.mark.timeout(scaled(300, 1800))]

ROUNDS = scaled(12, 120)
SCANNERS = 6


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scan:
    client_id: str
    began: datetime
    commit_started: datetime
    allowed: bool
    code: str | None


@dataclass(frozen=True)
class Target:
    record_id: int
    household_id: int
    text: str


Race = tuple[Engine, list[Target], Origin, int]


@pytest.fixture
def race(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Race]:
    """A migrated PostgreSQL database of its own with the demo compound (no history)."""
    url = postgres_server.create_database()
    engine = create_engine(
        normalize_url(url), pool_size=SCANNERS + 2, max_overflow=0, pool_pre_ping=True
    )
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            summary = build_demo(
                session, keys_dir=tmp_path / "keys", now=_utcnow(), households=ROUNDS + 10, days=0
            )
        with transaction(sessions) as session:
            device = session.scalars(select(Device).order_by(Device.id)).first()
            assert device is not None
            origin = Origin(gate_id=device.gate_id, device_id=device.id)
            targets = []
            for record in session.scalars(
                select(IssuedPass)
                .join(Household, Household.id == IssuedPass.household_id)
                .where(
                    IssuedPass.status == PassStatus.ACTIVE,
                    Household.status == HouseholdStatus.NORMAL,
                )
                .order_by(IssuedPass.id)
            ):
                targets.append(Target(record.id, record.household_id, pass_text(session, record)))
        assert len(targets) >= ROUNDS
        yield engine, targets[:ROUNDS], origin, summary.community_id
    finally:
        engine.dispose()
        postgres_server.drop_database(url)


def _race(
    sessions: sessionmaker[Session],
    target: Target,
    origin: Origin,
    community_id: int,
    rng: random.Random,
) -> tuple[list[Scan], datetime]:
    with transaction(sessions, read_only=True) as session:
        context = load_context(session, community_id)
    stop = threading.Event()
    scans: list[Scan] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def scanner() -> None:
        try:
            while not stop.is_set():
                began = _utcnow()
                client_id = str(uuid.uuid4())
                with transaction(sessions) as session:  # first statement comes after `began`
                    recorded = record_scan(
                        session,
                        context=context,
                        origin=origin,
                        request=ScanRequest(
                            client_id=client_id,
                            pass_text=target.text,
                            direction=Direction.IN,
                            temperature=365,
                            scanned_at=began,
                        ),
                        now=began,
                    )
                    allowed, code = recorded.allowed, recorded.code
                    commit_started = _utcnow()
                with lock:
                    scans.append(Scan(client_id, began, commit_started, allowed, code))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=scanner) for _ in range(SCANNERS)]
    for thread in threads:
        thread.start()
    time.sleep(rng.uniform(0.05, 0.25))
    with transaction(sessions) as session:
        record = session.get(IssuedPass, target.record_id)
        assert record is not None
        revoke_pass(session, record, actor="office", reason="card lost", now=_utcnow())
    revoked = _utcnow()  # after COMMIT returned: the revocation is visible to all from here
    time.sleep(rng.uniform(0.05, 0.15))
    stop.set()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    return scans, revoked


def test_no_scan_begun_after_the_revocation_committed_is_allowed(race: Race) -> None:
    db, targets, origin, community_id = race
    sessions = session_factory(db)
    rng = random.Random()
    totals = {"scans": 0, "allowed_before": 0, "refused_after": 0, "late_commits": 0}
    for target in targets:
        scans, revoked = _race(sessions, target, origin, community_id, rng)
        after = [scan for scan in scans if scan.began > revoked]
        wrongly_allowed = [scan for scan in after if scan.allowed]
        assert not wrongly_allowed, (
            f"{len(wrongly_allowed)} scans begun after the revocation committed were allowed"
        )
        assert all(scan.code == "revoked" for scan in after)
        allowed = [scan for scan in scans if scan.allowed]
        assert allowed, "no scan was allowed before the revocation: no race happened"
        assert after, "no scan began after the revocation: no race happened"
        with transaction(sessions, read_only=True) as session:
            stored = session.execute(
                select(Crossing.allowed, Crossing.recorded_at, Crossing.code).where(
                    Crossing.client_id.in_([scan.client_id for scan in scans])
                )
            ).all()
        assert len(stored) == len(scans)
        assert all(at <= revoked for ok, at, _code in stored if ok)
        assert all(code == "revoked" for ok, _at, code in stored if not ok)
        totals["scans"] += len(scans)
        totals["allowed_before"] += len(allowed)
        totals["refused_after"] += len(after)
        # Decided before the revocation was visible, committed after it: allowed by design.
        totals["late_commits"] += sum(1 for scan in allowed if scan.commit_started > revoked)
    print(describe(rounds=len(targets), threads=SCANNERS, **totals))


def test_the_race_check_catches_a_gate_that_misses_revocations(
    race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: with the server's revocation lookup broken (it never sees a revoked pass), the
    same race and the same check do find allowed scans begun after the revocation."""
    import gate.crossings.operations as operations

    monkeypatch.setattr(operations, "revoked_of", lambda _check, _status: frozenset())
    db, targets, origin, community_id = race
    scans, revoked = _race(session_factory(db), targets[0], origin, community_id, random.Random())
    assert [scan for scan in scans if scan.began > revoked and scan.allowed]
