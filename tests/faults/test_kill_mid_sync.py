"""Processes killed mid-sync: the gate server during a large batch, and the scanner after the
server committed but before it recorded the acknowledgement. The next syncs converge.

A real ``checkpoint serve`` (gunicorn master + worker, own process group) on a SQLite file with
the demo compound; a scanner journal full of offline crossings. Alternating rounds:

- server kill: an Uploader (real HTTP, batches of 500) runs in a thread; the server
  (``server_kill.py``: the real server plus an ``after_commit`` hook) SIGKILLs its whole
  process group right after the commit that brings the device's stored crossings to a random
  count inside the batch, before it answers. Checked afterwards: the server did die at that
  count, and the last crossing it committed is still unsent in the journal (the window was
  really hit, on every run: no test thread races the upload). The uploader gets a transport
  error and keeps its rows unsent. The gate database's integrity and hash chain are checked,
  and the server restarted.
- scanner kill: ``python -m tests.faults.compound upload-and-die`` uploads with a transport
  that SIGKILLs its own process right after the N-th HTTP response arrived, before
  ``Journal.acknowledge``. Checked afterwards: the batch it died on is stored on the server yet
  still unsent in the journal (the window was really hit) and the journal is intact.

Finally a plain sync drains the journal. Every journal crossing is on the server exactly once,
in the device's order, and the chain verifies; the lost acknowledgements came back as
``duplicate``.

Counts: 1,000 crossings and 2 kills of each kind (small) / 10,000 and 8 of each (full).
"""

from __future__ import annotations

import json
import random
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scanner.api_client import ApiClient
from scanner.journal import Journal
from scanner.sync import SyncReport, Uploader
from tests.faults import server_kill
from tests.faults.compound import (
    MARKS,
    DemoCompound,
    Enrolled,
    ServerProcess,
    assert_chain_intact,
    assert_delivered_exactly_once,
    build_compound,
    describe,
    enroll,
    fast_dir,
    record_offline,
    run_upload_and_die,
    scaled,
    server_rows,
    sqlite_integrity,
)

pytestmark = [*MARKS, pytest.mark.timeout(scaled(300, 3600))]

CROSSINGS = scaled(1_000, 10_000)
KILLS = scaled(2, 8)
SERVER_BATCH = 500
SCANNER_BATCH = 100


def _kill_server_mid_batch(
    server: ServerProcess, compound: DemoCompound, journal_path: Path, device: Enrolled,
    rng: random.Random, plan: Path,
) -> tuple[SyncReport, int]:  # fmt: skip
    """Upload in a thread; the server kills itself once some of the current batch committed.
    Returns the uploader's report and how many crossings the server committed meanwhile."""
    database = compound.database_path
    before = server_kill.stored_count(database, device.device_id)
    new = CROSSINGS - before  # not on the server yet
    assert new > 2, "too few crossings left to kill the server mid-batch"
    target = before + rng.randint(1, min(SERVER_BATCH, new) - 1)
    server_kill.arm(plan, device_id=device.device_id, at_least=target)
    reports: list[SyncReport] = []

    def upload() -> None:
        with (
            Journal(journal_path) as journal,
            ApiClient(server.url, device.token, timeout_s=60) as client,
        ):
            reports.append(Uploader(client, journal, batch_size=SERVER_BATCH).upload_pending())

    thread = threading.Thread(target=upload)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the upload neither finished nor failed within 120 s"
    server_kill.disarm(plan)
    marker = server_kill.killed_marker(plan)
    assert marker.exists(), f"the upload finished without the server reaching {target} crossings"
    assert server.process is not None
    assert server.process.wait(timeout=20) == -signal.SIGKILL
    server.kill()  # reaps what is left of the process group
    killed_at = int(json.loads(marker.read_text())["stored"])
    stored = [
        row.client_id
        for row in server_rows(compound.database_url)
        if row.device_id == device.device_id
    ]
    assert len(stored) == killed_at >= target, "the server committed more after its kill"
    with Journal(journal_path) as journal:
        last = journal.get(stored[-1])
    assert last is not None
    assert last.entry.state == "unsent", (
        "the answer to the batch the server died in arrived: the kill came too late to test "
        "anything"
    )
    return reports[0], killed_at - before


def test_killed_server_and_killed_scanner_converge_without_duplicates_or_losses() -> None:
    # Process kills, not power cuts: the page cache survives them, so tmpfs is as honest as a
    # disk here, and faster.
    with fast_dir("killed-") as scratch:
        _converge_after_kills(scratch)


def _converge_after_kills(tmp_path: Path) -> None:
    rng = random.Random()
    compound = build_compound(tmp_path / "instance", households=60)
    plan = tmp_path / "kill-plan.json"
    server = ServerProcess(
        {**compound.env, server_kill.PLAN_ENV: str(plan)},
        tmp_path / "server.log",
        program=[sys.executable, server_kill.__file__],
    )
    server.start()
    started = time.monotonic()
    notes: list[str] = []
    try:
        device = enroll(server.url, compound.enrolment_codes[0])
        journal_path = tmp_path / "scanner" / "journal.db"
        journal_path.parent.mkdir()
        with Journal(journal_path) as journal:
            order = record_offline(
                journal,
                compound.texts,
                CROSSINGS,
                start=datetime.now(UTC) - timedelta(hours=8),
                step_s=2.5,
            )

        for round_ in range(KILLS):
            # The server, SIGKILLed in the middle of a large batch.
            report, committed = _kill_server_mid_batch(
                server, compound, journal_path, device, rng, plan
            )
            assert report.error is not None, "the uploader did not notice the dead server"
            assert sqlite_integrity(compound.database_path) == ["ok"]
            assert_chain_intact(compound.database_url, compound.gate_id)
            notes.append(f"server-kill-{round_}: died with {committed} new crossings committed")
            server.start()

            # The scanner, SIGKILLed after the server answered, before it noted the answer.
            marker = tmp_path / f"answer-{round_}.json"
            with Journal(journal_path) as journal:
                batches_left = -(-journal.counts()["unsent"] // SCANNER_BATCH)
            died = run_upload_and_die(
                journal_path,
                server.url,
                device.token,
                die_after=rng.randint(1, min(3, batches_left)),
                batch_size=SCANNER_BATCH,
                marker=marker,
            )
            assert died.returncode == -9, died.stdout + died.stderr
            answered = json.loads(marker.read_text())["results"]
            assert answered, "the scanner died on an empty answer"
            assert {item["status"] for item in answered} <= {"stored", "duplicate"}
            on_server = {row.client_id for row in server_rows(compound.database_url)}
            with Journal(journal_path) as journal:
                assert journal.integrity_check() == ["ok"]
                left = [journal.get(item["id"]) for item in answered]
            assert all(item["id"] in on_server for item in answered)
            assert all(row is not None and row.entry.state == "unsent" for row in left), (
                "the acknowledgement was recorded: the kill came too late to test anything"
            )
            notes.append(f"scanner-kill-{round_}: {len(answered)} answered, not recorded")

        with (
            Journal(journal_path) as journal,
            ApiClient(server.url, device.token, timeout_s=60) as client,
        ):
            final = Uploader(client, journal, batch_size=SERVER_BATCH).upload_pending()
            again = Uploader(client, journal, batch_size=SERVER_BATCH).upload_pending()
            counts = journal.counts()
        assert final.ok, final
        assert again.ok, again
        assert final.duplicates >= KILLS, "lost acknowledgements must come back as duplicates"
        assert again.sent == again.duplicates == 0
        assert counts == {"unsent": 0, "sent": CROSSINGS, "dead": 0}
    finally:
        server.stop()

    rows = server_rows(compound.database_url)
    assert_delivered_exactly_once(rows, device.device_id, order)
    assert_chain_intact(compound.database_url, compound.gate_id)
    assert sqlite_integrity(compound.database_path) == ["ok"]
    print(
        describe(
            crossings=CROSSINGS,
            kills=KILLS * 2,
            final_duplicates=final.duplicates,
            seconds=round(time.monotonic() - started, 1),
        ),
        "|",
        "; ".join(notes),
    )
