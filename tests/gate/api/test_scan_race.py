"""No double grant: 16 scanners at one gate race to let out a household with one outing left.

Each client is a thread with its own database connection; per round they all try the exit
of the same household at once (behind a barrier): in the main race each calls
``record_scan`` in a transaction of its own, as the API does; in the end-to-end variant
each POSTs with its own Flask test client and its own enrolled device. The database must
grant exactly one: the household row lock (``SELECT ... FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite) serialises the quota check, and the gate row lock keeps the
hash chain whole.

Rounds: ``CHECKPOINT_RACE_ROUNDS`` on PostgreSQL (default 200; the long run uses 1000),
``CHECKPOINT_RACE_ROUNDS_SQLITE`` on SQLite (default 25: SQLite has one writer anyway), and
``CHECKPOINT_RACE_HTTP_ROUNDS`` for the end-to-end variant over the Flask test client (10).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import Compound, Resident, assert_chain_intact, build_compound, scan_body
from sqlalchemy import Engine, create_engine, func, select

from gate.community.context import load_context
from gate.crossings.models import Crossing
from gate.crossings.operations import Origin, ScanRequest, record_scan
from gate.db import normalize_url, session_factory, transaction
from gate.devices.models import Gate
from passes import Direction, Quota, RuleSet

CLIENTS = 16
ROUNDS = {
    "postgresql": int(os.environ.get("CHECKPOINT_RACE_ROUNDS", "200")),
    "sqlite": int(os.environ.get("CHECKPOINT_RACE_ROUNDS_SQLITE", "25")),
}
HTTP_ROUNDS = int(os.environ.get("CHECKPOINT_RACE_HTTP_ROUNDS", "10"))
# Two outings per three days and nobody limited by "already out": only the quota can refuse,
# so the race is on the quota's read-check-write.
RULES = RuleSet(version=1, quota=Quota(exits=2, length=3), max_out_at_once=99)


@pytest.fixture
def make_racing(
    committed_engine: Engine, db_url: str, db_backend: str, tmp_path: Path
) -> Iterator[Callable[[int], Compound]]:
    """Build a compound of ``n`` households, each with one of its two outings already used,
    and ``CLIENTS`` enrolled scanners at its gate."""
    built: list[Compound] = []

    def make(households: int) -> Compound:
        compound = build_compound(
            db_url, tmp_path, households=households, rules=RULES, extra_devices=CLIENTS - 1
        )
        built.append(compound)
        if db_backend == "postgresql":
            # A connection per client at once (make_engine's default pool holds 5 + 10).
            engine = create_engine(
                normalize_url(db_url), pool_size=CLIENTS + 2, max_overflow=0, pool_pre_ping=True
            )
            compound.services.engine.dispose()
            compound.services.engine = engine
            compound.services.sessions = session_factory(engine)
        _use_one_outing_each(compound)
        return compound

    try:
        yield make
    finally:
        for compound in built:
            compound.dispose()


def _use_one_outing_each(compound: Compound) -> None:
    earlier = compound.clock() - timedelta(minutes=30)
    with transaction(compound.sessions) as session:
        context = load_context(session, compound.community_id)
        origin = Origin(gate_id=compound.gate_id, device_id=compound.device_id)
        for n, resident in enumerate(compound.residents):
            request = ScanRequest(
                client_id=f"00000000-0000-4000-8000-{n:012d}",
                pass_text=resident.pass_text,
                direction=Direction.OUT,
                temperature=365,
                scanned_at=earlier,
            )
            recorded = record_scan(
                session, context=context, origin=origin, request=request, now=earlier
            )
            assert recorded.allowed


def _race(
    compound: Compound, rounds: int, attempt: Callable[[int, int], tuple[bool, str | None]]
) -> list[Counter[tuple[bool, str | None]]]:
    """``CLIENTS`` threads; per round, all call ``attempt(client, round)`` at once."""
    barrier = threading.Barrier(CLIENTS, timeout=60)
    outcomes: list[Counter[tuple[bool, str | None]]] = [Counter() for _ in range(rounds)]
    failures: list[BaseException] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        try:
            for round_ in range(rounds):
                barrier.wait()
                outcome = attempt(index, round_)
                with lock:
                    outcomes[round_][outcome] += 1
        except BaseException as exc:  # reported below, with the others
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return outcomes


def _assert_one_grant_per_household(compound: Compound, rounds: int) -> None:
    raced = {r.household_id for r in compound.residents[:rounds]}
    with transaction(compound.sessions, read_only=True) as session:
        allowed = Counter(session.scalars(select(Crossing.household_id).where(Crossing.allowed)))
        total = session.scalar(select(func.count()).select_from(Crossing))
    assert {allowed[h] for h in raced} == {2}
    assert total == len(compound.residents) + rounds * CLIENTS
    assert assert_chain_intact(compound) == total


def test_one_outing_left_is_granted_exactly_once_to_16_concurrent_exits(
    make_racing: Callable[[int], Compound], db_backend: str
) -> None:
    """The race itself: record_scan in a transaction of its own per client, as the API does."""
    compound = make_racing(ROUNDS[db_backend])
    origin = Origin(gate_id=compound.gate_id, device_id=compound.device_id)
    rounds = len(compound.residents)

    def attempt(_client: int, round_: int) -> tuple[bool, str | None]:
        request = ScanRequest(
            client_id=str(uuid.uuid4()),
            pass_text=compound.residents[round_].pass_text,
            direction=Direction.OUT,
            temperature=365,
            scanned_at=compound.clock(),
        )
        with transaction(compound.sessions) as session:
            context = compound.services.contexts.get(session, compound.community_id)
            recorded = record_scan(
                session, context=context, origin=origin, request=request, now=compound.clock()
            )
            return recorded.allowed, recorded.code

    outcomes = _race(compound, rounds, attempt)
    for round_, tally in enumerate(outcomes):
        assert tally == {(True, None): 1, (False, "quota"): CLIENTS - 1}, (round_, tally)
    _assert_one_grant_per_household(compound, rounds)


def test_the_same_race_over_http_with_16_enrolled_scanners(
    make_racing: Callable[[int], Compound],
) -> None:
    """End to end: 16 test clients, 16 device tokens, one gate's chain; fewer rounds."""
    compound = make_racing(HTTP_ROUNDS)
    tokens = [compound.token, *compound.extra_tokens]
    assert len(tokens) == CLIENTS
    clients = [compound.client() for _ in tokens]
    rounds = min(HTTP_ROUNDS, len(compound.residents))

    def attempt(client: int, round_: int) -> tuple[bool, str | None]:
        body = scan_body(compound.residents[round_].pass_text, "out", scanned_at=compound.clock())
        response = clients[client].post(
            "/api/v1/scans", json=body, headers=compound.headers(tokens[client])
        )
        assert response.status_code == 200, response.get_json()
        verdict = response.get_json()["verdict"]
        return verdict["allowed"], verdict["code"]

    outcomes = _race(compound, rounds, attempt)
    for round_, tally in enumerate(outcomes):
        assert tally == {(True, None): 1, (False, "quota"): CLIENTS - 1}, (round_, tally)
    _assert_one_grant_per_household(compound, rounds)


def test_a_gate_read_before_the_lock_does_not_fork_the_chain(
    make_racing: Callable[[int], Compound], db_backend: str
) -> None:
    """A request reads its gate (device.gate) before it locks anything; another scan at the
    gate commits meanwhile. Appending must use the locked row, not the stale copy."""
    if db_backend == "sqlite":
        pytest.skip("SQLite transactions hold the write lock from BEGIN: nothing can interleave")
    compound = make_racing(2)
    origin = Origin(gate_id=compound.gate_id, device_id=compound.device_id)
    first, second = compound.residents[:2]

    def request(resident: Resident) -> ScanRequest:
        return ScanRequest(
            client_id=str(uuid.uuid4()),
            pass_text=resident.pass_text,
            direction=Direction.OUT,
            temperature=365,
            scanned_at=compound.clock(),
        )

    with transaction(compound.sessions) as slow:
        stale = slow.get_one(Gate, compound.gate_id)
        before = stale.chain_seq
        context = load_context(slow, compound.community_id)
        with transaction(compound.sessions) as quick:
            record_scan(
                quick, context=context, origin=origin, request=request(first), now=compound.clock()
            )
        recorded = record_scan(
            slow, context=context, origin=origin, request=request(second), now=compound.clock()
        )
        assert recorded.gate_seq == before + 2
    assert assert_chain_intact(compound) == len(compound.residents) + 2
