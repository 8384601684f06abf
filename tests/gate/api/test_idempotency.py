"""Idempotency of ``POST /api/v1/scans`` on the client's UUID, on SQLite and PostgreSQL.

Every scan is sent three times, all sends shuffled and spread over a few concurrent clients
(so two copies of one scan may be in flight together): each UUID is stored exactly once, the
first answer decides, and every replay returns that verdict unchanged, marked ``replay``.

Every run sends 1000 scans, the size the gate server issue names.
"""

from __future__ import annotations

import queue
import random
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, assert_chain_intact, build_compound, scan_body
from sqlalchemy import Engine, func, select

from gate.crossings.models import Crossing
from gate.db import transaction

SIZES = [
    pytest.param(1000, id="1000"),
]
COPIES = 3
CLIENTS = 4


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=60)
    try:
        yield built
    finally:
        built.dispose()


def _scans(compound: Compound, rng: random.Random, count: int) -> list[dict[str, Any]]:
    scans = []
    for _ in range(count):
        resident = rng.choice(compound.residents)
        temperature = rng.choice([365, 366, 368, 370, 373, 381, 500, None])
        scans.append(
            scan_body(
                resident.pass_text,
                rng.choice(["out", "in"]),
                temperature,
                scanned_at=compound.clock(),
                client_id=str(uuid.uuid4()),  # random, as a scanner makes them
                latency_ms=rng.randint(50, 900),
            )
        )
    return scans


@pytest.mark.parametrize("scans_sent", SIZES)
def test_each_scan_sent_three_times_is_stored_once_and_replays_its_verdict(
    compound: Compound, scans_sent: int
) -> None:
    rng = random.Random(20221122)
    scans = _scans(compound, rng, scans_sent)
    sends = [scan for scan in scans for _ in range(COPIES)]
    rng.shuffle(sends)
    work: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    for body in sends:
        work.put(body)
    answers: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def client() -> None:
        http = compound.client()
        try:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                response = http.post("/api/v1/scans", json=body, headers=compound.headers())
                with lock:
                    answers[body["id"]].append((response.status_code, response.get_json()))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(answers) == scans_sent
    for client_id, replies in answers.items():
        assert [status for status, _ in replies] == [200] * COPIES, replies
        bodies = [body for _, body in replies]
        assert sorted(body["replay"] for body in bodies) == [False, True, True], client_id
        original = next(body for body in bodies if not body["replay"])
        for body in bodies:
            assert body["verdict"] == original["verdict"], client_id
            assert body["crossing_id"] == original["crossing_id"]
            assert body["id"] == client_id
            assert body["household_label"] == original["household_label"]
            assert body["next_exit_at"] == original["next_exit_at"]

    with transaction(compound.sessions, read_only=True) as session:
        stored = Counter(session.scalars(select(Crossing.client_id)))
        total = session.scalar(select(func.count()).select_from(Crossing))
    assert total == scans_sent
    assert set(stored) == set(answers)
    assert set(stored.values()) == {1}
    assert assert_chain_intact(compound) == scans_sent
    codes = Counter(
        body["verdict"]["code"] for replies in answers.values() for _, body in replies[:1]
    )
    assert {None, "fever", "sensor_error", "no_temperature"} <= set(codes)
