"""Offline uploads are stored a chunk per transaction, without deadlocking online scans.

The per-item contract (stored once, conflicts, rejected items) is tested against a reference
model in ``test_offline_batch.py``; this file checks how items are grouped into
transactions (:mod:`gate.crossings.uploads`) and that the lock order holds against online scans
at the same gate.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import START, Compound, assert_chain_intact, build_compound, scan_body
from sqlalchemy import Engine, event

import gate.crossings.uploads as uploads
from gate.crossings.uploads import CHUNK, SET_CHUNK

CLAIM = {"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1}


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=60, extra_devices=1)
    # Uploads come in after the crossings happened (the server rejects future-dated ones).
    built.clock.set(START + timedelta(days=1))
    try:
        yield built
    finally:
        built.dispose()


def _offline_items(compound: Compound, count: int, first_minute: int = 0) -> list[dict[str, Any]]:
    """``count`` offline crossings, households round robin, each alternating out and in."""
    residents = compound.residents
    return [
        scan_body(
            residents[n % len(residents)].pass_text,
            "out" if (n // len(residents)) % 2 == 0 else "in",
            scanned_at=START + timedelta(minutes=first_minute + n),
            verdict=CLAIM,
        )
        for n in range(count)
    ]


def _commits_during(compound: Compound, action: Any) -> int:
    commits: list[object] = []

    def count(_connection: object) -> None:
        commits.append(_connection)

    event.listen(compound.engine, "commit", count)
    try:
        action()
    finally:
        event.remove(compound.engine, "commit", count)
    return len(commits)


@pytest.mark.parametrize("path", ["set", "item"])
def test_a_batch_is_committed_once_per_chunk(
    compound: Compound, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Household-pass crossings go set-based, SET_CHUNK a transaction; where the set path
    declines (forced here), item by item, CHUNK a transaction."""
    size = SET_CHUNK if path == "set" else CHUNK
    if path == "item":
        monkeypatch.setattr(uploads, "store_offline_chunk", lambda *args, **kwargs: None)
    items = _offline_items(compound, size + 50)  # a batch holds at most 500
    client = compound.client()
    answers: list[Any] = []
    commits = _commits_during(compound, lambda: answers.append(compound.upload(client, items)))
    results = answers[0].get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * len(items)
    assert [r["id"] for r in results] == [item["id"] for item in items]
    # One commit for the device's contact, then one per chunk.
    assert commits == 1 + 2
    assert compound.crossing_count() == len(items)
    assert assert_chain_intact(compound) == len(items)
    again = compound.upload(client, items).get_json()["results"]
    assert [r["status"] for r in again] == ["duplicate"] * len(items)
    assert compound.crossing_count() == len(items)


def test_a_chunk_with_a_screen_code_is_stored_item_by_item(compound: Compound) -> None:
    """A screen code names its household only through the database, so its chunk cannot
    lock households up front: each item then gets a transaction of its own."""
    items = _offline_items(compound, 9)
    items.insert(4, scan_body("CS1:NOT-A-REAL-CODE", "out", scanned_at=START, verdict=CLAIM))
    client = compound.client()
    answers: list[Any] = []
    commits = _commits_during(compound, lambda: answers.append(compound.upload(client, items)))
    results = answers[0].get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * len(items)
    assert commits >= len(items)
    assert assert_chain_intact(compound) == len(items)


def test_a_rejected_item_in_a_chunk_is_kept_and_the_rest_stored(compound: Compound) -> None:
    items = _offline_items(compound, 20)
    items[7] = {**items[7], "direction": "sideways"}
    items[12] = {**items[12], "id": "not-a-uuid"}
    results = compound.upload(compound.client(), items).get_json()["results"]
    statuses = [r["status"] for r in results]
    assert statuses[7] == statuses[12] == "rejected"
    assert statuses.count("stored") == 18
    assert results[12]["id"] is None
    assert assert_chain_intact(compound) == 20


def test_uploads_and_online_scans_at_the_same_gate_never_deadlock(
    compound: Compound, db_backend: str
) -> None:
    """One device uploads chunks naming every household while another device at the same
    gate scans those households online: every request is answered, none with an error,
    and the gate's chain holds every crossing once."""
    if db_backend != "postgresql":
        pytest.skip("SQLite transactions hold the write lock from BEGIN: nothing can interleave")
    uploader_token, scanner_token = compound.token, compound.extra_tokens[0]
    failures: list[str] = []
    done = threading.Event()
    sent = {"online": 0, "offline": 0}

    def upload() -> None:
        client = compound.client()
        for round_ in range(6):
            items = _offline_items(compound, CHUNK, first_minute=round_ * CHUNK)
            response = compound.upload(client, items, token=uploader_token)
            if response.status_code != 200:
                failures.append(f"upload: {response.status_code} {response.get_json()}")
            sent["offline"] += len(items)
        done.set()

    def scan(offset: int) -> None:
        client = compound.client()
        n = offset
        while not done.is_set():
            resident = compound.residents[n % len(compound.residents)]
            n += 7
            response = compound.scan(
                client, resident.pass_text, "in", token=scanner_token, id=str(uuid.uuid4())
            )
            if response.status_code != 200:
                failures.append(f"scan: {response.status_code} {response.get_json()}")
            sent["online"] += 1

    threads = [threading.Thread(target=upload)]
    threads += [threading.Thread(target=scan, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert sent["online"] > 0
    assert assert_chain_intact(compound) == sent["online"] + sent["offline"]
