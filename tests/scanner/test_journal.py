"""The local journal: durable, append-only, integrity-checked, faults never silent."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from passes import Direction, HouseholdState, Override
from scanner.journal import Ack, CrossingEntry, Journal, JournalFault
from tests.scanner.fakes import NOW


def _entry(household_id: int = 1, **changes: object) -> CrossingEntry:
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "pass_text": "CP1:TEST",
        "direction": Direction.OUT,
        "temperature": 365,
        "scanned_at": NOW,
        "verdict": {"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1},
        "offline": True,
        "household_id": household_id,
        "latency_ms": 120,
    }
    values.update(changes)
    return CrossingEntry(**values)  # type: ignore[arg-type]


def test_recorded_crossing_survives_reopening_with_all_fields(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    entry = _entry(override=Override("王主任", "送医"), operator="李")
    state = HouseholdState(1, out_since=(NOW,), exits=(NOW,))
    with Journal(path) as journal:
        journal.record(entry, state)

    with Journal(path) as reopened:
        row = reopened.get(entry.id)
        assert row is not None
        assert row.entry == entry
        assert row.seq == 1
        assert reopened.counts() == {"unsent": 1, "sent": 0, "dead": 0}
        assert reopened.local_household(1, since=NOW - timedelta(hours=1)) == state


def test_journal_uses_wal_and_full_sync(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        db = journal._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_rows_keep_recording_order(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        entries = [_entry(scanned_at=NOW - timedelta(minutes=i)) for i in range(5)]
        for entry in entries:
            journal.record(entry)
        assert [r.entry.id for r in journal.rows("unsent")] == [e.id for e in entries]
        assert [r.seq for r in journal.rows()] == [1, 2, 3, 4, 5]


def test_deleting_a_crossing_is_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.record(_entry())
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            journal._db.execute("DELETE FROM crossings")
        assert journal.counts()["unsent"] == 1


def test_same_uuid_twice_is_a_fault_and_keeps_the_first(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        entry = _entry()
        journal.record(entry)
        with pytest.raises(JournalFault):
            journal.record(entry)
        assert journal.counts()["unsent"] == 1


def test_disk_full_raises_journal_fault_and_writes_nothing(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.record(_entry())
        pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
        journal._db.execute(f"PRAGMA max_page_count = {pages}")
        big = [_entry(pass_text="X" * 4000) for _ in range(200)]
        with pytest.raises(JournalFault, match="full"):
            _record_all(journal, big)
        journal._db.execute("PRAGMA max_page_count = 1000000")
        assert journal.integrity_check() == ["ok"]


def _record_all(journal: Journal, entries: list[CrossingEntry]) -> None:
    for entry in entries:
        journal.record(entry)


def test_integrity_check_is_ok_on_a_healthy_file(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.record(_entry())
        assert journal.integrity_check() == ["ok"]


def test_a_garbage_file_is_a_fault_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalFault):
        Journal(path)


def test_acknowledge_changes_only_unsent_rows(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        first, second = _entry(), _entry()
        journal.record(first)
        journal.record(second)
        journal.acknowledge([Ack(first.id, "dead", error="bad_pass: no")], at=NOW)
        journal.acknowledge([Ack(first.id, "sent", 9), Ack(second.id, "sent", 10)], at=NOW)
        dead = journal.get(first.id)
        assert dead is not None
        assert dead.entry.state == "dead"
        assert dead.error == "bad_pass: no"
        sent = journal.get(second.id)
        assert sent is not None
        assert sent.entry.state == "sent"
        assert sent.entry.server_crossing_id == 10


def test_local_household_only_when_a_crossing_may_be_missing_from_the_bundle(
    tmp_path: Path,
) -> None:
    with Journal(tmp_path / "j.db") as journal:
        entry = _entry()
        journal.record(entry, HouseholdState(1, out_since=(NOW,), exits=(NOW,)))
        assert journal.local_household(1, since=NOW) is not None  # unsent
        journal.acknowledge([Ack(entry.id, "sent", 1)], at=NOW)
        assert journal.local_household(1, since=NOW + timedelta(minutes=1)) is None  # in bundle
        assert journal.local_household(1, since=NOW - timedelta(minutes=1)) is not None
        assert journal.local_household(2, since=NOW) is None


def test_meta_round_trips_json(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.set_meta(a={"x": [1, 2]}, b=1.5)
        assert journal.get_meta("a") == {"x": [1, 2]}
        assert journal.get_meta("b") == 1.5
        assert journal.get_meta("missing", "d") == "d"
