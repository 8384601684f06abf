"""A crossing the server keeps failing on (any status) moves to the dead letter after bounded
retries, and everything behind it is sent (issue 11, finding 4)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from passes import Direction
from scanner.api_client import ApiClient
from scanner.journal import CrossingEntry, Journal
from scanner.status import collect_status, format_status
from scanner.sync import MAX_ITEM_FAILURES, Uploader
from tests.scanner.fakes import NOW, Community, ServerStub, WallClock


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


class PoisonServer:
    """The stub, but a batch holding a poisoned id answers 500 (a server bug on that item);
    ``bundle_down`` makes the bundle fail too (the server is down, not the item)."""

    def __init__(self) -> None:
        self.stub = ServerStub(Community())
        self.poison: set[str] = set()
        self.bundle_down = False
        self.requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.url.path.endswith("/crossings/batch"):
            ids = {item["id"] for item in json.loads(request.content)["crossings"]}
            if ids & self.poison:
                return httpx.Response(500, text="Internal Server Error")
        if request.url.path.endswith("/bundle") and self.bundle_down:
            return httpx.Response(500, text="Internal Server Error")
        return self.stub.handle(request)


@pytest.fixture
def server() -> PoisonServer:
    return PoisonServer()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as j:
        yield j


@pytest.fixture
def client(server: PoisonServer) -> Iterator[ApiClient]:
    transport = httpx.MockTransport(server.handle)
    with ApiClient("http://gate", ServerStub.TOKEN, transport=transport) as c:
        yield c


def test_a_crossing_the_server_fails_on_does_not_block_the_ones_behind_it(
    server: PoisonServer, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 9)
    server.poison = {ids[3]}
    uploader = Uploader(client, journal, now=WallClock())

    first = uploader.upload_pending()

    assert set(server.stub.stored) == set(ids) - {ids[3]}  # the rest went in the same round
    assert first.sent == 8
    assert first.failing == 1
    assert first.error is not None
    assert "server error 500" in first.error
    assert journal.counts() == {"unsent": 1, "sent": 8, "dead": 0}
    for _ in range(MAX_ITEM_FAILURES - 2):
        assert uploader.upload_pending().failing == 1
    last = uploader.upload_pending()

    assert last.dead == 1
    assert last.error is None
    assert journal.counts() == {"unsent": 0, "sent": 8, "dead": 1}
    row = journal.get(ids[3])
    assert row is not None
    assert row.entry.state == "dead"
    assert row.failures == MAX_ITEM_FAILURES
    assert row.error == f"server error 500 ({MAX_ITEM_FAILURES} attempts)"
    later = _record(journal, 2)
    assert uploader.upload_pending().sent == 2  # nothing jams: a dead letter is never re-sent
    assert set(later) <= set(server.stub.stored)


def test_status_shows_the_dead_letter_count_and_reason(
    server: PoisonServer, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 3)
    server.poison = {ids[0]}
    uploader = Uploader(client, journal, now=WallClock())
    for _ in range(MAX_ITEM_FAILURES):
        uploader.upload_pending()

    report = collect_status(journal, None, now=NOW, max_bundle_age=timedelta(hours=24))
    text = format_status(report, "zh")

    assert report.counts["dead"] == 1
    assert report.to_json()["dead_letters"] == 1
    assert "被拒（死信）: 1" in text
    assert ids[0] in text
    assert "server error 500" in text


def test_a_server_that_answers_nothing_but_errors_blames_no_crossing(
    server: PoisonServer, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 40)
    server.poison = set(ids)  # every batch fails
    server.bundle_down = True  # and so does everything else: the server is down
    uploader = Uploader(client, journal, now=WallClock())
    for _ in range(MAX_ITEM_FAILURES * 2):
        server.requests = 0
        report = uploader.upload_pending()
        assert report.error is not None
        assert server.requests <= 10  # a short round, not a bisection of the whole batch

    assert journal.counts() == {"unsent": 40, "sent": 0, "dead": 0}
    assert all(row.failures == 0 for row in journal.rows())


def test_a_rejected_item_still_dead_letters_at_once(
    server: PoisonServer, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 3)
    server.stub.reject = {ids[1]}
    report = Uploader(client, journal, now=WallClock()).upload_pending()

    assert report.dead == 1
    assert report.sent == 2
    assert journal.counts() == {"unsent": 0, "sent": 2, "dead": 1}
