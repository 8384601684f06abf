"""Online first, offline within the deadline, local state respected, degraded mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from passes import Direction, Override
from scanner.api_client import ApiClient
from scanner.bundle import BundleCache, save_bundle
from scanner.deciding import NO_BUNDLE, STALE_BUNDLE, Decider, Decision, ScanRequest
from scanner.journal import Journal
from scanner.loop import entry_for
from tests.scanner.fakes import Community, FakeClock, ServerStub, WallClock


class Setup:
    def __init__(self, tmp_path: Path, *, online: bool = True, bundle_age_h: float = 0) -> None:
        self.community = Community()
        self.server = ServerStub(self.community)
        self.mono = FakeClock()
        self.wall = WallClock(mono=self.mono)
        self.journal = Journal(tmp_path / "journal.db")
        fetched = self.wall() - timedelta(hours=bundle_age_h)
        save_bundle(self.journal, self.community.bundle(), etag=None, fetched_at=fetched)
        self.client = ApiClient("http://gate", ServerStub.TOKEN, transport=self.server.transport)
        self.decider = Decider(
            client=self.client if online else None,
            bundles=BundleCache(self.journal).current,
            local=self.journal,
            now=self.wall,
            monotonic=self.mono,
        )

    def scan(
        self,
        household_id: int = 1,
        direction: Direction = Direction.OUT,
        *,
        tenths: int = 365,
        override: Override | None = None,
        text: str | None = None,
        pause_s: float = 60,
    ) -> Decision:
        request = ScanRequest(
            text or self.community.passes[household_id], direction, tenths, override=override
        )
        decision = self.decider.decide(request)
        self.journal.record(entry_for(request, decision, 10), decision.state_after)
        self.mono.advance(pause_s)
        return decision

    def close(self) -> None:
        self.client.close()
        self.journal.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = Setup(tmp_path)
    yield s
    s.close()


def test_server_up_gives_an_online_verdict_under_the_client_uuid(setup: Setup) -> None:
    decision = setup.scan(1)
    assert decision.offline is False
    assert decision.allowed is True
    assert decision.household_label == "3-2-401 张*"
    assert setup.server.scans[0]["id"] == decision.crossing_id
    row = setup.journal.get(decision.crossing_id)
    assert row is not None
    assert row.entry.state == "sent"


def test_server_down_gives_an_offline_verdict_with_an_opaque_label(setup: Setup) -> None:
    setup.server.mode = "down"
    decision = setup.scan(1)
    assert decision.offline is True
    assert decision.allowed is True
    assert decision.household_label == "住户 #1"
    assert setup.journal.counts()["unsent"] == 1


def test_a_server_that_does_not_answer_is_abandoned_within_the_deadline(setup: Setup) -> None:
    setup.server.mode = "slow"
    setup.server.delay_s = 2.5
    started = time.monotonic()
    decision = setup.scan(1)
    elapsed = time.monotonic() - started
    assert decision.offline is True
    assert elapsed < setup.decider.config.deadline_s
    assert decision.online_error is not None


def test_server_errors_fall_back_to_offline(setup: Setup) -> None:
    setup.server.mode = "error"
    assert setup.scan(1).offline is True


def test_after_a_failure_the_server_is_skipped_for_a_while(setup: Setup) -> None:
    setup.server.mode = "down"
    setup.scan(1, pause_s=10)
    setup.server.mode = "up"
    assert setup.scan(2, pause_s=25).offline is True  # 10 s after the failure: not asked
    assert len(setup.server.scans) == 0
    assert setup.scan(3).offline is False  # 35 s after: asked again
    setup.server.mode = "down"
    setup.scan(1, pause_s=1)
    setup.server.mode = "up"
    setup.decider.retry_online_now()  # e.g. the uploader reached the server
    assert setup.scan(2).offline is False


def test_quota_and_already_out_are_respected_offline_from_local_state(tmp_path: Path) -> None:
    s = Setup(tmp_path, online=False)
    first = s.scan(1)
    second_copy = s.community.issue(1)  # the household's phone copy of its pass
    second = s.scan(1, text=second_copy)
    back = s.scan(1, Direction.IN)
    third = s.scan(1)
    s.close()

    assert first.allowed is True
    assert second.allowed is False
    assert second.code == "already_out"
    assert "quota" in second.codes
    assert back.allowed is True
    assert third.allowed is False
    assert third.code == "quota"


def test_an_online_allowed_exit_updates_local_state_for_later_offline_scans(
    setup: Setup,
) -> None:
    assert setup.scan(1).offline is False
    setup.server.mode = "down"
    later = setup.scan(1)
    assert later.offline is True
    assert later.code == "already_out"


def test_degraded_mode_turns_an_offline_allow_into_stale_bundle(tmp_path: Path) -> None:
    s = Setup(tmp_path, online=False, bundle_age_h=25)
    decision = s.scan(1)
    s.close()
    assert decision.allowed is False
    assert decision.code == STALE_BUNDLE
    assert decision.degraded is True
    assert decision.state_after is None


def test_degraded_mode_keeps_core_refusals(tmp_path: Path) -> None:
    s = Setup(tmp_path, online=False, bundle_age_h=25)
    decision = s.scan(1, tenths=385)
    s.close()
    assert decision.code == "fever"


def test_degraded_mode_allows_with_a_supervisor_override(tmp_path: Path) -> None:
    s = Setup(tmp_path, online=False, bundle_age_h=25)
    decision = s.scan(1, override=Override("王主任", "就医"))
    s.close()
    assert decision.allowed is True
    assert STALE_BUNDLE in decision.notes
    assert "override" in decision.notes


def test_a_fresh_bundle_is_not_degraded(tmp_path: Path) -> None:
    s = Setup(tmp_path, online=False, bundle_age_h=23)
    decision = s.scan(1)
    s.close()
    assert decision.allowed is True
    assert decision.degraded is False


def test_offline_without_any_bundle_refuses_with_no_bundle(tmp_path: Path) -> None:
    with Journal(tmp_path / "empty.db") as journal:
        decider = Decider(
            client=None, bundles=BundleCache(journal).current, local=journal, now=WallClock()
        )
        decision = decider.decide(ScanRequest(Community().passes[1], Direction.OUT, 365))
    assert decision.code == NO_BUNDLE
    assert decision.allowed is False


def test_a_forged_pass_is_refused_offline(tmp_path: Path) -> None:
    s = Setup(tmp_path, online=False)
    other = Community()  # another key
    decision = s.scan(1, text=other.passes[1])
    s.close()
    assert decision.code == "bad_signature"
