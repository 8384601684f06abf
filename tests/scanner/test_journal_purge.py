"""Letting the data go on a scanner: synced crossings are deleted, the file shrinks, unsynced
and dead-letter crossings stay, numbering goes on, and the CLI does it in Chinese."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from passes import Direction, HouseholdState
from scanner.cli import cli
from scanner.journal import Ack, CrossingEntry, Journal
from tests.scanner.fakes import NOW

OLD = NOW - timedelta(days=40)


def _entry(at: object, household_id: int, marker: str = "KEEP") -> CrossingEntry:
    return CrossingEntry(
        id=str(uuid.uuid4()),
        pass_text=f"CP1:{marker}" + "X" * 300,  # a pass is a few hundred bytes: the file must grow
        direction=Direction.OUT,
        temperature=365,
        scanned_at=at,  # type: ignore[arg-type]
        verdict={"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1},
        offline=True,
        household_id=household_id,
        operator="志愿者",
    )


def _fill(journal: Journal) -> tuple[list[str], list[str], str]:
    """2,000 old synced crossings, one old unsent, one old dead, 10 recent synced ones."""
    synced = []
    for index in range(2000):
        entry = _entry(OLD + timedelta(seconds=index), index % 50, marker="OLDSYNCED")
        journal.record(entry, HouseholdState(index % 50, out_since=(OLD,), exits=(OLD,)))
        synced.append(entry.id)
    unsent = _entry(OLD, household_id=7)
    journal.record(unsent)
    dead = _entry(OLD, household_id=8)
    journal.record(dead)
    recent = []
    for index in range(10):
        entry = _entry(NOW - timedelta(minutes=index), household_id=100 + index)
        journal.record(entry, HouseholdState(100 + index, out_since=(NOW,), exits=(NOW,)))
        recent.append(entry.id)
    journal.acknowledge([Ack(i, "sent", server_crossing_id=1) for i in synced + recent], at=NOW)
    journal.acknowledge([Ack(dead.id, "dead", error="rejected")], at=NOW)
    return synced, recent, unsent.id


def test_purge_deletes_synced_rows_only_and_the_file_shrinks(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        synced, recent, unsent = _fill(journal)
        journal.compact()
        size_before = path.stat().st_size

        deleted = journal.purge(NOW - timedelta(days=30))

        assert deleted == len(synced)
        assert journal.counts() == {"unsent": 1, "sent": len(recent), "dead": 1}
        assert journal.get(unsent) is not None
        assert all(journal.get(i) is None for i in synced[:20])
        assert journal.integrity_check() == ["ok"]
        states = journal._db.execute("SELECT household_id FROM households").fetchall()
        assert {row[0] for row in states} == {7, 8, *range(100, 110)}  # the rest had no row left
        newest = _entry(NOW, household_id=1)
        journal.record(newest)
        row = journal.get(newest.id)
        assert row is not None
        assert row.seq == len(synced) + 2 + len(recent) + 1  # numbers are never reused
    assert path.stat().st_size < size_before / 4
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"OLDSYNCED" not in on_disk  # gone from the disk, not only marked free
    assert b"KEEP" in on_disk


def test_unsynced_crossings_still_cannot_be_deleted(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        entry = _entry(OLD, household_id=1)
        journal.record(entry)
        assert journal.purge(NOW) == 0
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            journal._db.execute("DELETE FROM crossings")
        assert journal.counts()["unsent"] == 1


def test_a_schema_2_journal_is_upgraded_to_allow_purges(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Journal(path) as journal:
        entry = _entry(OLD, household_id=1)
        journal.record(entry)
        journal.acknowledge([Ack(entry.id, "sent", server_crossing_id=1)], at=NOW)
        journal._db.executescript(
            "DROP TRIGGER crossings_keep_unsynced;"
            " CREATE TRIGGER crossings_append_only BEFORE DELETE ON crossings"
            " BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;"
            " PRAGMA user_version = 2;"
        )
    with Journal(path) as reopened:
        assert reopened.purge(NOW) == 1


def test_scanner_purge_command(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        _fill(journal)
    before = (NOW - timedelta(days=30)).strftime("%Y-%m-%d")

    result = CliRunner().invoke(cli, ["purge", "--before", before, "--data-dir", str(tmp_path)])
    helped = CliRunner().invoke(cli, ["purge", "--help"])

    assert result.exit_code == 0, result.output
    assert "已删除已上传记录 2000 条" in result.output
    assert "未上传 1 条保留" in result.output
    assert helped.exit_code == 0
    assert "Example: checkpoint-scanner purge" in helped.output
