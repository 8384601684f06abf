"""The uploader prepares the next batch while one is with the server, and still keeps order:
never two batches at the server at once, the next sent only after the previous was answered,
acknowledged only on an answer, and the journal read only by the thread that owns it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from passes import Direction
from scanner.api_client import ApiClient
from scanner.journal import CrossingEntry, Journal
from scanner.sync import Uploader
from tests.scanner.fakes import NOW


def _record(journal: Journal, count: int) -> list[str]:
    ids = []
    for i in range(count):
        entry = CrossingEntry(
            id=str(uuid.uuid4()),
            pass_text=f"CP1:{i}",
            direction=Direction.OUT,
            temperature=365,
            scanned_at=NOW + timedelta(seconds=i),
            verdict={"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1},
            offline=True,
            household_id=1,
        )
        journal.record(entry)
        ids.append(entry.id)
    return ids


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as j:
        yield j


class Server:
    """Answers batches slowly, noting how many were at it at once and in what order."""

    def __init__(self, *, fail: set[int] = frozenset(), delay_s: float = 0.02) -> None:
        self.fail = fail
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.at_once = 0
        self.most_at_once = 0
        self.batches: list[list[str]] = []
        self.stored: list[str] = []
        self.backlog: list[str | None] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
            number = len(self.batches)
            items = json.loads(request.content)["crossings"]
            self.batches.append([item["id"] for item in items])
            self.backlog.append(request.headers.get("x-checkpoint-backlog"))
        try:
            time.sleep(self.delay_s)
            if number in self.fail:
                return httpx.Response(500, json={"error": {"code": "boom", "message": "x"}})
            self.stored += [item["id"] for item in items]
            results = [
                {"id": item["id"], "status": "stored", "crossing_id": 1, "conflict": False,
                 "conflict_code": None, "error": None}
                for item in items
            ]  # fmt: skip
            return httpx.Response(
                200, json={"format": "checkpoint.batch-result.v1", "results": results}
            )
        finally:
            with self.lock:
                self.at_once -= 1


def test_one_batch_at_the_server_at_a_time_in_journal_order(journal: Journal) -> None:
    ids = _record(journal, 10)
    server = Server()
    with ApiClient("http://gate", "t", transport=httpx.MockTransport(server.handle)) as client:
        report = Uploader(client, journal, batch_size=3).upload_pending()
    assert report.ok
    assert report.sent == 10
    assert server.most_at_once == 1
    assert server.batches == [ids[0:3], ids[3:6], ids[6:9], ids[9:10]]
    assert server.stored == ids
    assert journal.counts() == {"unsent": 0, "sent": 10, "dead": 0}


def test_a_failed_batch_is_split_before_the_next_goes(journal: Journal) -> None:
    ids = _record(journal, 8)
    server = Server(fail={1})  # the second batch's first try answers 500
    with ApiClient("http://gate", "t", transport=httpx.MockTransport(server.handle)) as client:
        report = Uploader(client, journal, batch_size=4).upload_pending()
    assert report.ok
    assert report.sent == 8
    assert server.batches == [ids[0:4], ids[4:8], ids[4:6], ids[6:8]]
    assert server.stored == ids  # the halves, then nothing else: order kept
    assert server.most_at_once == 1


def test_the_round_stops_at_a_batch_that_cannot_be_sent(journal: Journal) -> None:
    ids = _record(journal, 6)
    server = Server()
    answered = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        if answered:
            raise httpx.ConnectError("gone", request=request)
        answered += 1
        return server.handle(request)

    with ApiClient("http://gate", "t", transport=httpx.MockTransport(handle)) as client:
        report = Uploader(client, journal, batch_size=3).upload_pending()
    assert not report.ok
    assert server.stored == ids[:3]
    assert journal.counts() == {"unsent": 3, "sent": 3, "dead": 0}
    row = journal.get(ids[3])
    assert row is not None
    assert row.attempts == 1


def test_the_backlog_is_read_in_the_journals_own_thread(journal: Journal) -> None:
    _record(journal, 7)
    server = Server()
    with ApiClient(
        "http://gate",
        "t",
        transport=httpx.MockTransport(server.handle),
        backlog=lambda: journal.counts()["unsent"],  # sqlite3: only its own thread may read
    ) as client:
        report = Uploader(client, journal, batch_size=3).upload_pending()
    assert report.ok
    assert report.sent == 7
    # Each batch's count is read as it is prepared, before the one ahead is acknowledged.
    assert server.backlog == ["7", "7", "4"]
