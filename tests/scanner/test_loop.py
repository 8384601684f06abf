"""The scan loop with fake frames, a fake clock and a fake thermometer."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from passes import Direction, HouseholdState
from scanner.bundle import BundleCache, save_bundle
from scanner.deciding import Decider
from scanner.display import Screen
from scanner.frames import Frame
from scanner.journal import CrossingEntry, Journal, JournalFault
from scanner.loop import DirectionChooser, LoopConfig, Phase, Recording, ScanLoop
from tests.scanner.fakes import (
    Community,
    FakeClock,
    FakeDecoder,
    FakeThermometer,
    RecordingDisplay,
    WallClock,
    held,
)


class World:
    def __init__(
        self,
        tmp_path: Path,
        *,
        keys: list[str] | None = None,
        tenths: int | None = 365,
        recorder: Recording | None = None,
        direction: DirectionChooser | None = None,
        config: LoopConfig | None = None,
    ) -> None:
        self.community = Community()
        self.clock = FakeClock()
        self.wall = WallClock(mono=self.clock)
        self.journal = Journal(tmp_path / "journal.db")
        save_bundle(self.journal, self.community.bundle(), etag=None, fetched_at=self.wall())
        self.decoder = FakeDecoder()
        self.display = RecordingDisplay(keys, self.clock)
        self.thermometer = FakeThermometer(tenths, self.clock)
        self.decider = Decider(
            client=None,
            bundles=BundleCache(self.journal).current,
            local=self.journal,
            now=self.wall,
            monotonic=self.clock,
        )
        self.loop = ScanLoop(
            decoder=self.decoder,
            thermometer=self.thermometer,
            decider=self.decider,
            journal=recorder or self.journal,
            display=self.display,
            clock=self.clock,
            direction=direction,
            config=config,
        )

    def hold(self, text: str | None, seconds: float) -> Iterator[Frame]:
        return held(self.decoder, self.clock, text, seconds)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.journal.close()


def test_one_pass_held_for_three_seconds_is_exactly_one_crossing(world: World) -> None:
    card = world.community.passes[1]
    events = world.loop.run(world.hold(card, 3.0))

    assert [e.kind for e in events] == ["crossing"]
    assert world.journal.counts()["unsent"] == 1
    assert [s.kind for s in world.display.verdicts] == ["allow"]
    assert world.display.verdicts[0].label == "住户 #1"
    assert world.display.verdicts[0].online is False


def test_same_pass_two_seconds_later_replays_then_ten_seconds_later_is_a_new_scan(
    world: World,
) -> None:
    card = world.community.passes[1]
    frames = itertools.chain(
        world.hold(card, 3.0),
        world.hold(None, 2.0),
        world.hold(card, 1.0),
        world.hold(None, 10.0),
        world.hold(card, 1.0),
    )
    events = world.loop.run(frames)

    assert [e.kind for e in events] == ["crossing", "replay", "crossing"]
    assert events[1].decision == events[0].decision
    rows = world.journal.rows()
    assert len(rows) == 2
    assert rows[0].entry.verdict["allowed"] is True
    assert rows[1].entry.verdict["code"] == "already_out"  # from the journal's local state
    assert [s.kind for s in world.display.verdicts] == ["allow", "allow", "refuse"]


def test_the_verdict_holds_then_the_screen_returns_to_idle(world: World) -> None:
    card = world.community.passes[2]
    world.loop.run(itertools.chain(world.hold(card, 0.5), world.hold(None, 2.0)))
    assert world.loop.phase is Phase.SHOWING
    world.loop.run(world.hold(None, 1.5))
    assert world.loop.phase.value == "idle"
    assert world.display.screens[-1].kind == "idle"


def test_latency_from_frame_to_decision_is_stored(world: World) -> None:
    world.loop.run(world.hold(world.community.passes[1], 0.2))
    [row] = world.journal.rows()
    assert row.entry.latency_ms is not None
    assert row.entry.latency_ms >= 0
    assert row.entry.temperature == 365


def test_the_crossing_is_committed_before_its_verdict_is_shown(tmp_path: Path) -> None:
    log: list[str] = []

    class Spy:
        def __init__(self, journal: Journal) -> None:
            self.journal = journal

        def record(self, entry: CrossingEntry, state_after: HouseholdState | None = None) -> None:
            self.journal.record(entry, state_after)
            log.append("committed")

    class SpyDisplay(RecordingDisplay):
        def show(self, screen: Screen) -> None:
            log.append(screen.kind)
            super().show(screen)

    w = World(tmp_path)
    w.loop._journal = Spy(w.journal)
    w.loop._display = SpyDisplay()
    w.loop.run(w.hold(w.community.passes[1], 0.3))
    assert log.index("committed") < log.index("allow")


def test_a_storage_fault_shows_the_fault_screen_never_green(tmp_path: Path) -> None:
    class BrokenJournal:
        def record(self, entry: CrossingEntry, state_after: HouseholdState | None = None) -> None:
            raise JournalFault("disk full")

    w = World(tmp_path, recorder=BrokenJournal())
    events = w.loop.run(w.hold(w.community.passes[1], 1.0))
    assert [e.kind for e in events] == ["fault"]
    assert [s.kind for s in w.display.verdicts] == ["fault"]
    assert w.loop.phase is Phase.FAULT


def test_no_temperature_is_recorded_and_asks_to_measure(tmp_path: Path) -> None:
    w = World(tmp_path, tenths=None)
    w.loop.run(w.hold(w.community.passes[1], 0.2))
    [row] = w.journal.rows()
    assert row.entry.verdict["code"] == "no_temperature"
    assert [s.kind for s in w.display.verdicts] == ["remeasure"]


def test_a_key_chooses_the_direction_for_the_next_scan_only(tmp_path: Path) -> None:
    w = World(tmp_path, keys=["i"], direction=DirectionChooser(Direction.OUT, keyed=True))
    card1, card2 = w.community.passes[1], w.community.passes[2]
    w.loop.run(itertools.chain(w.hold(None, 0.5), w.hold(card1, 0.5), w.hold(card2, 0.5)))
    assert [r.entry.direction for r in w.journal.rows()] == [Direction.IN, Direction.OUT]


def test_a_fixed_direction_ignores_keys(tmp_path: Path) -> None:
    w = World(tmp_path, keys=["o"], direction=DirectionChooser(Direction.IN, keyed=False))
    w.loop.run(w.hold(w.community.passes[1], 0.5))
    assert [r.entry.direction for r in w.journal.rows()] == [Direction.IN]


def test_typed_codes_from_a_wedge_scanner_are_debounced_too(world: World) -> None:
    from scanner.frames import TypedCode

    card = world.community.passes[1]
    events = world.loop.run([TypedCode(card, 1000.0), TypedCode(card, 1001.0)])
    assert [e.kind for e in events] == ["crossing", "replay"]


def test_loop_config_hold_is_respected(tmp_path: Path) -> None:
    w = World(tmp_path, config=LoopConfig(hold_s=10.0))
    w.loop.run(itertools.chain(w.hold(w.community.passes[1], 0.5), w.hold(None, 5.0)))
    assert w.loop.phase is Phase.SHOWING
