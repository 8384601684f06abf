"""Power loss on the gate server's SQLite database: every transaction acknowledged before the
cut survives it, although SQLite runs with ``synchronous=NORMAL`` (gate.db syncs the WAL itself
after each writing commit, once the write turn has passed on).

For every cut image, after SQLite's own recovery: ``PRAGMA integrity_check`` is ok and every
row whose ``transaction()`` block had returned before the cut is there. Four threads write at
once (their syncs overlap). The control: without the engine's sync, the harness sees
acknowledged rows lost (it is not blind). The harness: tests/faults/powercut.py.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.faults.compound import MARKS, scaled
from tests.faults.gate_powercut import GateWriter

pytestmark = [*MARKS, pytest.mark.timeout(scaled(300, 1800))]

WRITERS = scaled(1, 10)
CUTS_PER_WRITER = 30


def test_power_cuts_lose_no_acknowledged_gate_transaction(
    powercut_shim: Path, tmp_path: Path
) -> None:
    rng = random.Random()
    for run in range(WRITERS):
        writer = GateWriter(powercut_shim, tmp_path / f"run-{run}")
        try:
            writer.wait_for(1)
            images = []
            for n in range(CUTS_PER_WRITER):
                time.sleep(rng.uniform(0, 0.05))
                images.append(writer.cut(kill=n == CUTS_PER_WRITER - 1))
        finally:
            writer.close()
        for acknowledged, ids, integrity in images:
            assert integrity == ["ok"], integrity
            lost = [row for row in acknowledged if row not in ids]
            assert not lost, f"{len(lost)} acknowledged transactions lost: {lost[:3]}"
        assert sum(1 for acknowledged, _ids, _ok in images if acknowledged) >= CUTS_PER_WRITER // 2


def test_the_harness_sees_losses_without_the_engines_sync(
    powercut_shim: Path, tmp_path: Path
) -> None:
    rng = random.Random()
    writer = GateWriter(powercut_shim, tmp_path, sync=False)
    try:
        writer.wait_for(1)
        images = []
        for _ in range(10):
            time.sleep(rng.uniform(0.02, 0.1))
            images.append(writer.cut())
    finally:
        writer.close()
    losing = [ids for acknowledged, ids, _ in images if any(a not in ids for a in acknowledged)]
    assert losing, "no cut lost an acknowledged row without the sync: the harness is blind"
    assert all(integrity == ["ok"] for _acknowledged, _ids, integrity in images)
