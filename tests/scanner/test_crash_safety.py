"""Crash safety: the scanner killed with SIGKILL at random moments loses no shown verdict.

A subprocess runs ``checkpoint-scanner run --images DIR --headless --offline`` over 300 pass
images; it is killed several times after a random number of printed verdicts (plus a random
few milliseconds). After every kill: each printed verdict has its crossing in the journal and
``PRAGMA integrity_check`` is ok. At the end a sync to a stub delivers each crossing once.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from passes import render_png
from scanner.api_client import ApiClient
from scanner.bundle import save_bundle
from scanner.journal import Journal
from scanner.sync import Uploader
from tests.scanner.fakes import Community, ServerStub

pytestmark = pytest.mark.faults

IMAGES = 300
KILLS = 4
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def community() -> Community:
    return Community(households=IMAGES, now=datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="module")
def image_dir(community: Community, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cards")
    texts = list(community.passes.values())
    render = functools.partial(render_png, module_px=3)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2, mp_context=context) as pool:
        for index, png in enumerate(pool.map(render, texts, chunksize=20)):
            (folder / f"{index:04d}.png").write_bytes(png)
    return folder


def _run_scanner(data_dir: Path, image_dir: Path, kill_after: int | None) -> list[dict[str, str]]:
    """Run the scanner; SIGKILL it after ``kill_after`` printed verdicts. Returns all printed."""
    command = [
        sys.executable, "-m", "scanner.cli", "run", "--images", str(image_dir), "--headless",
        "--offline", "--thermometer", "fixed:36.5", "--direction", "out", "--hold", "0",
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    printed: list[dict[str, str]] = []
    for line in process.stdout:
        printed.append(json.loads(line))
        if kill_after is not None and len(printed) >= kill_after:
            time.sleep(random.uniform(0, 0.03))
            process.send_signal(signal.SIGKILL)
            break
    printed.extend(json.loads(line) for line in process.stdout)  # already in the pipe
    process.wait(timeout=30)
    process.stdout.close()
    if kill_after is None:
        assert process.returncode == 0
    return printed


def _check_journal(data_dir: Path, printed: Counter[tuple[str, str]]) -> int:
    with Journal(data_dir / "journal.db") as journal:
        assert journal.integrity_check() == ["ok"]
        stored = Counter(
            (row.entry.verdict["household_label"], row.entry.verdict["display"])
            for row in journal.rows()
        )
        count = len(journal.rows())
    missing = printed - stored
    assert not missing, f"verdicts shown but not journaled: {missing}"
    return count


def test_sigkill_at_random_moments_loses_no_shown_crossing(
    community: Community, image_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with Journal(data_dir / "journal.db") as journal:
        save_bundle(journal, community.bundle(), etag=None, fetched_at=datetime.now(UTC))

    printed: Counter[tuple[str, str]] = Counter()
    rng = random.Random()
    for _ in range(KILLS):
        lines = _run_scanner(data_dir, image_dir, kill_after=rng.randint(5, IMAGES - 20))
        printed.update((line["label"], line["kind"]) for line in lines)
        _check_journal(data_dir, printed)
    lines = _run_scanner(data_dir, image_dir, kill_after=None)
    assert len(lines) == IMAGES  # households out since a killed run are refused, not skipped
    printed.update((line["label"], line["kind"]) for line in lines)
    total = _check_journal(data_dir, printed)

    server = ServerStub(community)
    server.fail_after_commit = True  # the first batch's acknowledgement is lost
    with (
        Journal(data_dir / "journal.db") as journal,
        ApiClient("http://gate", ServerStub.TOKEN, transport=server.transport) as client,
    ):
        uploader = Uploader(client, journal, batch_size=200)
        first = uploader.upload_pending()  # the lost batch is re-sent in halves at once
        assert first.ok is True
        assert first.duplicates == 200
        assert uploader.upload_pending().ok is True
        assert journal.counts() == {"unsent": 0, "sent": total, "dead": 0}
        ids = {row.entry.id for row in journal.rows()}
    assert set(server.store_counts) == ids
    assert set(server.store_counts.values()) == {1}
    allowed = sum(1 for item in server.stored.values() if item["verdict"]["allowed"])
    assert allowed == IMAGES  # each household went out exactly once, across all the crashes
