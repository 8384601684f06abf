"""The scanner with per-person counting: + / - keys set how many cross on the next pass (back to
one after it), the offline decision counts them under rules that count people, the journal
keeps the count (an older journal gains the column) and the upload carries it."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from passes import CountKind, Direction, Quota, RuleSet
from scanner.bundle import Bundle
from scanner.deciding import ScanRequest, decide_offline
from scanner.journal import CrossingEntry, Journal
from scanner.loop_parts import PeopleCounter
from scanner.sync import upload_item
from tests.scanner.fakes import NOW, Community


def test_plus_and_minus_set_the_count_and_a_scan_takes_it() -> None:
    people = PeopleCounter()
    assert people.key("plus")
    assert people.key("KP_Add")
    assert not people.key("o")
    assert people.count == 3
    assert people.key("minus")
    assert people.take() == 2
    assert people.count == 1
    assert not people.key("-")  # never below one


def test_the_offline_decision_counts_people_when_the_rules_do() -> None:
    rules = RuleSet(quota=Quota(exits=2, length=1), max_out_at_once=5, count=CountKind.PEOPLE)
    community = Community(households=1, rules=rules)
    bundle = Bundle.from_dict(community.bundle(), fetched_at=NOW)
    text = community.passes[1]

    def decide(people: int) -> str | None:
        request = ScanRequest(text, Direction.OUT, 365, people=people)
        decision = decide_offline(
            request, bundle, local=None, scanned_at=NOW, max_bundle_age=timedelta(hours=24)
        )
        return decision.code

    assert decide(2) is None
    assert decide(3) == "quota"


def _entry(people: int) -> CrossingEntry:
    return CrossingEntry(
        id=f"00000000-0000-4000-8000-00000000000{people}",
        pass_text="CP1:x",
        direction=Direction.OUT,
        temperature=365,
        scanned_at=NOW,
        verdict={"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1},
        offline=True,
        people=people,
    )


def test_the_journal_keeps_the_count_and_the_upload_carries_it(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.record(_entry(3))
        row = journal.get(_entry(3).id)
    assert row is not None
    assert row.entry.people == 3
    assert upload_item(row).to_json()["people"] == 3


def test_an_older_journal_gains_the_column_and_reads_one(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with Journal(path) as journal:
        journal.record(_entry(1))
    with sqlite3.connect(path) as db:  # as schema 3 left it
        db.execute("ALTER TABLE crossings DROP COLUMN people")
        db.execute("PRAGMA user_version = 3")
    with Journal(path) as journal:
        row = journal.get(_entry(1).id)
        journal.record(_entry(2))
        again = journal.get(_entry(2).id)
    assert row is not None
    assert row.entry.people == 1
    assert "people" not in upload_item(row).to_json()
    assert again is not None
    assert again.entry.people == 2
