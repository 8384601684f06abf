"""Upload exactly once, dead-letter rejections, survive lost acknowledgements, refresh bundles."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from passes import Direction
from scanner.api_client import ApiClient
from scanner.bundle import load_bundle
from scanner.journal import CrossingEntry, Journal
from scanner.sync import (
    LAST_SYNC_KEY,
    OFFSET_KEY,
    Backoff,
    SyncReport,
    SyncWorker,
    Uploader,
    refresh_bundle,
)
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


@pytest.fixture
def server() -> ServerStub:
    return ServerStub(Community())


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as j:
        yield j


@pytest.fixture
def client(server: ServerStub) -> Iterator[ApiClient]:
    with ApiClient("http://gate", ServerStub.TOKEN, transport=server.transport) as c:
        yield c


def test_unsent_crossings_are_uploaded_exactly_once_in_order(
    server: ServerStub, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 7)
    uploader = Uploader(client, journal, batch_size=3, now=WallClock())
    report = uploader.upload_pending()
    again = uploader.upload_pending()

    assert report.sent == 7
    assert report.remaining == 0
    assert again.sent == 0
    assert server.batches == [ids[0:3], ids[3:6], ids[6:7]]
    assert all(server.store_counts[i] == 1 for i in ids)
    assert journal.counts() == {"unsent": 0, "sent": 7, "dead": 0}
    assert journal.get_meta(LAST_SYNC_KEY) == {**again.__dict__}


def test_uploaded_items_carry_the_offline_verdict(
    server: ServerStub, journal: Journal, client: ApiClient
) -> None:
    [crossing_id] = _record(journal, 1)
    Uploader(client, journal).upload_pending()
    item = server.stored[crossing_id]
    assert item["format"] == "checkpoint.crossing.v1"  # an offline crossing, by its format
    assert item["scanned_at"].endswith("Z")
    assert item["verdict"] == {
        "allowed": True,
        "code": None,
        "codes": [],
        "notes": [],
        "rule_version": 1,
    }


def test_a_rejected_crossing_lands_in_the_dead_letter_and_stays(
    server: ServerStub, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 3)
    server.reject.add(ids[1])
    uploader = Uploader(client, journal)
    first = uploader.upload_pending()
    server.reject.clear()
    uploader.upload_pending()

    assert first.dead == 1
    assert journal.counts() == {"unsent": 0, "sent": 2, "dead": 1}
    dead = journal.get(ids[1])
    assert dead is not None
    assert dead.entry.state == "dead"
    assert dead.error is not None
    assert "bad_pass" in dead.error
    assert ids[1] not in server.stored


def test_a_lost_acknowledgement_re_sends_and_the_server_stores_once(
    server: ServerStub, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 4)
    server.fail_after_commit = True
    uploader = Uploader(client, journal)
    done = uploader.upload_pending()  # the 500 is answered by re-sending in halves

    assert server.batches == [ids, ids[:2], ids[2:]]
    assert done.duplicates == 4
    assert done.error is None
    assert journal.counts() == {"unsent": 0, "sent": 4, "dead": 0}
    assert all(server.store_counts[i] == 1 for i in ids)


def test_network_failure_keeps_crossings_unsent_and_counts_attempts(
    server: ServerStub, journal: Journal, client: ApiClient
) -> None:
    ids = _record(journal, 2)
    server.mode = "down"
    report = Uploader(client, journal).upload_pending()
    assert report.ok is False
    assert report.remaining == 2
    row = journal.get(ids[0])
    assert row is not None
    assert row.attempts == 1


def test_a_batch_refused_with_4xx_is_split_to_dead_letter_only_the_bad_item(
    journal: Journal,
) -> None:
    ids = _record(journal, 5)
    poison = ids[3]

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        items = json.loads(request.content)["crossings"]
        if any(item["id"] == poison for item in items):
            return httpx.Response(422, json={"error": {"code": "bad_item", "message": "x"}})
        return httpx.Response(200, json={"format": "checkpoint.batch-result.v1", "results": [
            {"id": i["id"], "status": "stored", "crossing_id": 1, "conflict": False,
             "conflict_code": None, "error": None} for i in items
        ]})  # fmt: skip

    with ApiClient("http://gate", "t", transport=httpx.MockTransport(handler)) as c:
        Uploader(c, journal).upload_pending()
    assert journal.counts() == {"unsent": 0, "sent": 4, "dead": 1}
    row = journal.get(poison)
    assert row is not None
    assert row.entry.state == "dead"


def test_a_revoked_device_stops_uploading_and_kills_nothing(
    server: ServerStub, journal: Journal
) -> None:
    _record(journal, 2)
    with ApiClient("http://gate", "wrong", transport=server.transport) as c:
        report = Uploader(c, journal).upload_pending()
    assert report.error is not None
    assert "bad_token" in report.error
    assert journal.counts() == {"unsent": 2, "sent": 0, "dead": 0}


def test_the_backlog_header_reports_unsent_count(server: ServerStub, journal: Journal) -> None:
    _record(journal, 3)
    with ApiClient(
        "http://gate", ServerStub.TOKEN, transport=server.transport,
        backlog=lambda: journal.counts()["unsent"],
    ) as c:  # fmt: skip
        Uploader(c, journal).upload_pending()
    assert server.backlog_headers == ["3"]


def test_bundle_refresh_stores_the_bundle_then_uses_the_etag(
    server: ServerStub, journal: Journal, client: ApiClient
) -> None:
    device = WallClock(start=NOW - timedelta(seconds=90))  # device clock 90 s slow
    first = refresh_bundle(client, journal, device_now=device)
    second = refresh_bundle(client, journal, device_now=device)
    assert first.outcome == "changed"
    assert second.outcome == "not_modified"
    bundle = load_bundle(journal)
    assert bundle is not None
    assert bundle.content_hash == "b1"
    assert journal.get_meta(OFFSET_KEY) == pytest.approx(90.0)


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1, cap_s=60)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng) for n in range(10)]
    assert all(0 <= d <= min(60, 2**n) for n, d in enumerate(delays))
    assert max(backoff.delay(20, rng) for _ in range(50)) <= 60


def test_the_worker_retries_with_backoff_then_uploads(
    server: ServerStub, journal: Journal, tmp_path: Path
) -> None:
    ids = _record(journal, 2)
    server.mode = "down"
    sleeps: list[float] = []
    reports: list[SyncReport] = []
    done = threading.Event()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            server.mode = "up"
        if len(sleeps) >= 3:
            done.set()
            worker._stop.set()

    worker = SyncWorker(
        lambda: ApiClient("http://gate", ServerStub.TOKEN, transport=server.transport),
        lambda: Journal(journal.path),
        backoff=Backoff(base_s=1, cap_s=10),
        rng=random.Random(0),
        sleep=sleep,
        on_round=reports.append,
        interval_s=15,
    )
    worker.start()
    assert done.wait(10)
    worker.stop()
    assert [r.ok for r in reports] == [False, False, True]
    assert sleeps[0] <= 1
    assert sleeps[1] <= 2
    assert sleeps[2] == 15
    assert all(server.store_counts[i] == 1 for i in ids)


def test_worker_keeps_trying_when_the_journal_cannot_be_opened(
    server: ServerStub, journal: Journal
) -> None:
    from scanner.journal import JournalFault

    ids = _record(journal, 2)
    attempts = {"open": 0}
    reports: list[SyncReport] = []
    done = threading.Event()

    def open_journal() -> Journal:
        attempts["open"] += 1
        if attempts["open"] == 1:  # e.g. the disk is full at start-up
            raise JournalFault("database or disk is full")
        return Journal(journal.path)

    def on_round(report: SyncReport) -> None:
        reports.append(report)
        if report.ok:
            done.set()
            worker._stop.set()

    worker = SyncWorker(
        lambda: ApiClient("http://gate", ServerStub.TOKEN, transport=server.transport),
        open_journal,
        backoff=Backoff(base_s=0.01, cap_s=0.01),
        rng=random.Random(0),
        sleep=lambda _seconds: None,
        on_round=on_round,
    )
    worker.start()
    assert done.wait(10)
    worker.stop()
    assert reports[0].error is not None
    assert "journal" in reports[0].error
    assert reports[-1].ok
    assert all(server.store_counts[i] == 1 for i in ids)
