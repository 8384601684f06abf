"""Storage full on the scanner: a storage fault screen, never green without a stored crossing,
and recording resumes once space is back (without a restart).

The real scan loop (:class:`scanner.loop.ScanLoop`: fake frames, clock, thermometer and display
from tests/scanner/fakes.py; offline decisions from a bundle) writes to the real Journal on a
nearly full disk, two ways:

- ``tmpfs``: a real 2 MiB tmpfs mounted for the test (needs root / CAP_SYS_ADMIN; skipped with
  the reason otherwise), filled with a filler file until only a few pages are free, so SQLite's
  writes fail with ENOSPC for real;
- ``page_limit``: SQLite's own ``PRAGMA max_page_count`` on the journal's connection, set just
  above the file's current size, so SQLite itself answers SQLITE_FULL ("database or disk is
  full"); runs everywhere.

Every pass presented is a different household, so each one is a new crossing. For every scan:
a verdict screen appears only with its crossing in the journal (read back through a new
connection, opened while the disk is still full: opening must not need to write), and a failed
write shows the fault screen, never a verdict. After the space comes back, the next scans are
recorded and shown again, and the journal passes integrity_check.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scanner.bundle import BundleCache, save_bundle
from scanner.deciding import Decider
from scanner.journal import Journal
from scanner.loop import LoopEvent, ScanLoop
from tests.faults.compound import MARKS, describe, scaled
from tests.scanner.fakes import (
    Community,
    FakeClock,
    FakeDecoder,
    FakeThermometer,
    RecordingDisplay,
    WallClock,
    held,
)

pytestmark = MARKS

HOUSEHOLDS = scaled(120, 400)
FAULTS_WANTED = scaled(5, 50)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A mounted 2 MiB tmpfs (skips when mounting is not allowed here)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): page_limit covers it")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


class Gate:
    """The scan loop over the real journal at ``path``."""

    def __init__(self, path: Path) -> None:
        self.community = Community(households=HOUSEHOLDS)
        self.clock = FakeClock()
        self.wall = WallClock(mono=self.clock)
        self.journal = Journal(path)
        save_bundle(self.journal, self.community.bundle(), etag=None, fetched_at=self.wall())
        self.decoder = FakeDecoder()
        self.display = RecordingDisplay()
        self.decider = Decider(
            client=None,
            bundles=BundleCache(self.journal).current,
            local=self.journal,
            now=self.wall,
            monotonic=self.clock,
        )
        self.loop = ScanLoop(
            decoder=self.decoder,
            thermometer=FakeThermometer(365, self.clock),
            decider=self.decider,
            journal=self.journal,
            display=self.display,
            clock=self.clock,
        )
        self.next_household = 1

    def present_next(self) -> LoopEvent:
        """The next household's pass for one second, then nobody for six (a new crossing)."""
        card = self.community.passes[self.next_household]
        self.next_household += 1
        shown = len(self.display.verdicts)
        events = self.loop.run(held(self.decoder, self.clock, card, 1.0))
        self.loop.run(held(self.decoder, self.clock, None, 6.0))
        assert len(events) == 1, events
        new_screens = self.display.verdicts[shown:]
        assert len(new_screens) == 1, new_screens
        return events[0]


def _check(gate: Gate, path: Path, events: list[LoopEvent]) -> None:
    """Every verdict shown has its crossing on disk; every failure showed the fault screen."""
    screens = gate.display.verdicts
    assert len(screens) == len(events)
    with Journal(path) as reader:  # a new connection: what is really in the file
        stored = {row.entry.id for row in reader.rows()}
        assert reader.integrity_check() == ["ok"]
    for event, screen in zip(events, screens, strict=True):
        if event.kind == "fault":
            assert screen.kind == "fault", screen
        else:
            assert event.kind == "crossing"
            assert event.decision is not None
            assert event.decision.crossing_id in stored, "a verdict shown, its crossing lost"
            assert screen.kind == event.decision.display
    assert len(stored) == sum(1 for event in events if event.kind == "crossing")


def _run(
    gate: Gate, path: Path, fill: Callable[[], None], free: Callable[[], None]
) -> dict[str, int]:
    events: list[LoopEvent] = []
    for _ in range(5):  # room for these
        events.append(gate.present_next())
    assert all(e.kind == "crossing" for e in events), "failed before the disk was filled"
    fill()
    faults = 0
    before_full = len(events)
    while faults < FAULTS_WANTED:
        assert gate.next_household <= HOUSEHOLDS - 10, "the disk never filled up"
        event = gate.present_next()
        events.append(event)
        faults += event.kind == "fault"
    _check(gate, path, events)
    assert gate.display.verdicts[-1].kind == "fault"
    recorded_while_full = sum(1 for e in events[before_full:] if e.kind == "crossing")

    free()
    resumed = [gate.present_next() for _ in range(5)]
    assert [e.kind for e in resumed] == ["crossing"] * 5, "no recovery once space came back"
    assert {s.kind for s in gate.display.verdicts[-5:]} == {"allow"}
    events.extend(resumed)
    _check(gate, path, events)
    return {"faults": faults, "recorded_while_filling": recorded_while_full}


def test_full_tmpfs_shows_the_fault_screen_and_never_green_without_a_stored_crossing(
    tiny_disk: Path,
) -> None:
    path = tiny_disk / "journal.db"
    gate = Gate(path)
    filler = tiny_disk / "filler"

    def fill() -> None:
        # Take all but 24 KiB: a few more commits fit, then every write fails with ENOSPC.
        stat = os.statvfs(tiny_disk)
        free = stat.f_bavail * stat.f_frsize
        with filler.open("wb") as handle:
            handle.write(b"\0" * max(0, free - 24 * 1024))

    def free() -> None:
        filler.unlink()

    try:
        result = _run(gate, path, fill, free)
    finally:
        gate.journal.close()
    print(describe(disk="tmpfs 2MiB", **result))


def test_sqlite_full_shows_the_fault_screen_and_never_green_without_a_stored_crossing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    gate = Gate(path)
    connection = gate.journal._db

    def fill() -> None:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    def free() -> None:
        connection.execute("PRAGMA max_page_count = 1073741823")

    try:
        result = _run(gate, path, fill, free)
    finally:
        gate.journal.close()
    print(describe(disk="max_page_count", **result))
