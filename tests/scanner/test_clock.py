"""Clock integrity at the scanner and the clock offset every crossing carries (issue 11,
finding 1): a clock found behind what the device has seen, behind its bundle, or jumping, is a
``clock_fault``; nothing is decided until a later check passes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from passes import Direction
from scanner.api_client import ApiClient
from scanner.bundle import BundleCache, save_bundle
from scanner.clock import ANCHOR_KEY, CLOCK_FAULT, ClockGuard, read_mark
from scanner.deciding import Decider, Decision, ScanRequest, decide_offline
from scanner.journal import CrossingEntry, Journal
from scanner.loop import entry_for
from scanner.status import collect_status, format_status
from scanner.sync import OFFSET_KEY, ServerClock, Uploader, refresh_bundle, upload_item
from tests.scanner.fakes import NOW, Community, FakeClock, ServerStub, WallClock

REASON = "设备时钟异常，请联系值班负责人"


class Gate:
    """An offline scanner with a guard, a settable wall clock and a monotonic clock."""

    def __init__(self, tmp_path: Path, *, online: bool = False) -> None:
        self.community = Community()
        self.server = ServerStub(self.community)
        self.mono = FakeClock()
        self.wall = WallClock(mono=self.mono)
        self.journal = Journal(tmp_path / "journal.db")
        save_bundle(self.journal, self.community.bundle(), etag=None, fetched_at=NOW)
        self.client = ApiClient("http://gate", ServerStub.TOKEN, transport=self.server.transport)
        bundles = BundleCache(self.journal)

        def bundle_time() -> datetime | None:
            bundle = bundles.current()
            return None if bundle is None else bundle.generated_at

        self.guard = ClockGuard(self.journal, bundle_time=bundle_time, monotonic=self.mono)
        self.decider = Decider(
            client=self.client if online else None,
            bundles=bundles.current,
            local=self.journal,
            now=self.wall,
            monotonic=self.mono,
            guard=self.guard,
            offset_ms=lambda: 1500,
        )

    def scan(self, direction: Direction, household_id: int = 1) -> Decision:
        request = ScanRequest(self.community.passes[household_id], direction, 365)
        decision = self.decider.decide(request)
        self.journal.record(entry_for(request, decision, 10), decision.state_after)
        self.mono.advance(60)
        return decision

    def close(self) -> None:
        self.client.close()
        self.journal.close()


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    g = Gate(tmp_path)
    yield g
    g.close()


def test_a_clock_moved_back_two_days_cannot_break_the_quota(gate: Gate) -> None:
    assert gate.scan(Direction.OUT).allowed
    assert gate.scan(Direction.IN).allowed
    refused = gate.scan(Direction.OUT)
    assert refused.code == "quota"

    gate.wall.offset = -timedelta(days=2)  # faketime: the outing window looks fresh
    fault = gate.scan(Direction.OUT)

    assert not fault.allowed
    assert fault.code == CLOCK_FAULT
    assert fault.display == "refuse"
    assert fault.reason("zh") == REASON
    assert gate.guard.last is not None
    assert gate.guard.last.problem == "behind_bundle"  # also behind the newest time seen
    rows = gate.journal.rows()
    assert [row.entry.verdict["code"] for row in rows] == [None, None, "quota", CLOCK_FAULT]
    assert rows[-1].entry.state == "unsent"  # it reaches the server with the next upload
    assert rows[-1].entry.clock_offset_ms == 1500
    assert [r for r in rows if r.entry.verdict["allowed"]][-1].entry.direction is Direction.IN
    mark = read_mark(gate.journal)
    assert mark is not None
    assert mark > fault.scanned_at  # the fault's time never raises the mark

    gate.wall.offset = timedelta(0)  # set right again: the next check passes
    assert gate.scan(Direction.OUT).code == "quota"


def test_a_jump_ahead_while_running_is_a_fault_until_the_server_is_heard(gate: Gate) -> None:
    assert gate.scan(Direction.OUT).allowed
    gate.wall.offset = timedelta(days=3)  # past the outing window at once
    assert gate.scan(Direction.IN).code == CLOCK_FAULT
    assert gate.guard.last is not None
    assert gate.guard.last.problem == "jumped"
    assert gate.scan(Direction.IN).code == CLOCK_FAULT  # stays until a check passes

    now = gate.wall()
    gate.journal.set_meta(**{ANCHOR_KEY: {"server_at": now.isoformat(), "device_at": "x"}})
    gate.journal.set_meta(clock_mark=now.isoformat().replace("+00:00", "Z"))
    fresh = gate.community.bundle(generated_at=now, content_hash="b2")
    save_bundle(gate.journal, fresh, etag=None, fetched_at=now)
    assert gate.scan(Direction.IN).allowed  # the server vouched for the new time


def test_at_start_a_clock_far_ahead_of_everything_seen_is_a_fault(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    try:
        assert gate.scan(Direction.OUT).allowed
    finally:
        gate.close()
    restarted = Gate(tmp_path)  # a new process: no monotonic reference yet
    try:
        restarted.wall.offset = timedelta(days=5)
        assert restarted.scan(Direction.IN).code == CLOCK_FAULT
        assert restarted.guard.last is not None
        assert restarted.guard.last.problem == "ahead"
    finally:
        restarted.close()


def test_a_clock_behind_the_bundle_is_a_fault_never_a_fresh_bundle(tmp_path: Path) -> None:
    community = Community()
    with Journal(tmp_path / "journal.db") as journal:
        bundle = save_bundle(journal, community.bundle(), etag=None, fetched_at=NOW)
        request = ScanRequest(community.passes[1], Direction.OUT, 365)
        early = decide_offline(
            request,
            bundle,
            local=journal,
            scanned_at=NOW - timedelta(days=2),
            max_bundle_age=timedelta(hours=24),
        )
        assert early.code == CLOCK_FAULT
        assert not early.allowed
        within = decide_offline(
            request,
            bundle,
            local=journal,
            scanned_at=NOW - timedelta(seconds=30),  # inside the tolerance
            max_bundle_age=timedelta(hours=24),
        )
        assert within.allowed

        report = collect_status(
            journal, None, now=NOW - timedelta(days=2), max_bundle_age=timedelta(hours=24)
        )
        assert report.clock is not None
        assert report.clock.problem == "behind_bundle"
        assert report.degraded
        text = format_status(report, "zh")
        assert "0 分钟前" not in text
        assert "时钟: ⚠ 异常" in text
        assert report.to_json()["clock"]["ok"] is False


def test_status_shows_a_sane_clock(gate: Gate) -> None:
    gate.scan(Direction.OUT)
    report = collect_status(gate.journal, None, now=gate.wall(), max_bundle_age=timedelta(1))
    assert report.clock is not None
    assert report.clock.ok
    assert "时钟: 正常" in format_status(report, "zh")
    assert "Clock: ok" in format_status(report, "en")


def test_every_crossing_carries_the_clock_offset_online_and_offline(tmp_path: Path) -> None:
    gate = Gate(tmp_path, online=True)
    try:
        online = gate.scan(Direction.OUT)
        assert not online.offline
        assert gate.server.scans[-1]["clock_offset_ms"] == 1500
        gate.server.mode = "down"
        offline = gate.scan(Direction.IN)
        assert offline.offline
        row = gate.journal.get(offline.crossing_id)
        assert row is not None
        assert upload_item(row).to_json()["clock_offset_ms"] == 1500
    finally:
        gate.close()


def test_the_server_clock_reports_the_device_offset(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        clock = ServerClock(journal)
        assert clock.device_offset_ms() is None
        journal.set_meta(**{OFFSET_KEY: -2.5})  # the server is 2.5 s behind the device
        assert clock.device_offset_ms() == 2500


def _dated(server: ServerStub, date: str) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        response = server.handle(request)
        response.headers["Date"] = date
        return response

    return httpx.MockTransport(handle)


def test_the_servers_date_header_sets_the_offset_and_raises_the_mark(tmp_path: Path) -> None:
    server = ServerStub(Community())
    device_now = datetime(2024, 3, 22, 2, 0, 10, tzinfo=UTC)  # 10 s ahead of the server
    transport = _dated(server, "Fri, 22 Mar 2024 02:00:00 GMT")
    with (
        Journal(tmp_path / "journal.db") as journal,
        ApiClient("http://gate", ServerStub.TOKEN, transport=transport) as client,
    ):
        assert refresh_bundle(client, journal, device_now=lambda: device_now).outcome == "changed"
        assert refresh_bundle(client, journal, device_now=lambda: device_now).outcome == (
            "not_modified"
        )
        assert journal.get_meta(OFFSET_KEY) == pytest.approx(-9.5)  # Date has whole seconds
        assert journal.get_meta(ANCHOR_KEY)["server_at"] == "2024-03-22T02:00:00Z"

        journal.record(  # something to upload
            CrossingEntry(
                id=str(uuid.uuid4()),
                pass_text="CP1:x",
                direction=Direction.OUT,
                temperature=365,
                scanned_at=NOW,
                verdict={"allowed": False, "code": "bad_pass", "codes": [], "notes": []},
                offline=True,
            )
        )
        later = "Fri, 22 Mar 2024 03:00:00 GMT"
        with ApiClient("http://gate", ServerStub.TOKEN, transport=_dated(server, later)) as c2:
            Uploader(c2, journal, now=lambda: device_now + timedelta(hours=1)).upload_pending()
        assert read_mark(journal) == datetime(2024, 3, 22, 3, 0, tzinfo=UTC)
