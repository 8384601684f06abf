"""A real scanner process whose clock goes back 2 days while offline (issue 11, finding 1).

The gate server (a real process on the demo compound) enrols a scanner and hands it a bundle,
then stops. Offline, the ``checkpoint-scanner run`` process (a keyboard-wedge source on stdin,
one process per scan, as a gate restarted between scans would be) allows OUT, allows IN and
refuses the next OUT for ``quota``. Then the same scanner runs under Debian's ``faketime``
with its clock 2 days back, where the quota window looks fresh: the OUT must be refused as
``clock_fault`` (设备时钟异常，请联系值班负责人), journaled as a refusal for the server, and no
quota-breaking exit may be in the journal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.crossings.models import Crossing
from gate.db import make_engine
from scanner.journal import Journal
from tests.faults.compound import BIN, MARKS, ServerProcess, build_compound, describe

pytestmark = [*MARKS, pytest.mark.timeout(240)]

FAKETIME = shutil.which("faketime")


def _scan(
    data_dir: Path, env: dict[str, str], text: str, direction: str, *, faked: str | None = None
) -> dict[str, Any]:
    command = [
        str(BIN / "checkpoint-scanner"),
        "run",
        "--wedge",
        "-",
        "--headless",
        "--offline",
        "--thermometer",
        "fixed:36.5",
        "--direction",
        direction,
        "--data-dir",
        str(data_dir),
    ]
    if faked is not None:
        assert FAKETIME is not None
        command = [FAKETIME, "-f", faked, *command]
    done = subprocess.run(
        command,
        input=text + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout + done.stderr[-2000:]
    first: dict[str, Any] = lines[0]
    return first


@pytest.mark.skipif(FAKETIME is None, reason="faketime is not installed (apt-get install faketime)")
def test_a_scanner_clock_moved_back_two_days_never_allows_a_quota_breaking_exit(
    tmp_path: Path,
) -> None:
    compound = build_compound(tmp_path / "instance", households=40)
    data_dir = tmp_path / "scanner"
    env = {key: value for key, value in compound.env.items() if not key.startswith("FAKETIME")}
    server = ServerProcess(compound.env, tmp_path / "server.log")
    server.start()
    try:
        enrolled = subprocess.run(
            [
                str(BIN / "checkpoint-scanner"),
                "enroll",
                "--server",
                server.url,
                "--code",
                compound.enrolment_codes[0],
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert enrolled.returncode == 0, enrolled.stderr
        assert "changed" in enrolled.stdout
    finally:
        server.stop()  # from here on the scanner is offline

    text = compound.texts[0]
    out = _scan(data_dir, env, text, "out")
    back = _scan(data_dir, env, text, "in")
    again = _scan(data_dir, env, text, "out")
    assert (out["kind"], back["kind"], again["kind"]) == ("allow", "allow", "refuse")

    skewed = _scan(data_dir, env, text, "out", faked="-2d")

    assert skewed["kind"] == "refuse"
    assert skewed["reason"] == "设备时钟异常，请联系值班负责人"
    with Journal(data_dir / "journal.db") as journal:
        rows = journal.rows()
    codes = [row.entry.verdict["code"] for row in rows]
    assert codes[-1] == "clock_fault"
    assert rows[-1].entry.state == "unsent"  # it goes to the server with the next upload
    exits = [r for r in rows if r.entry.direction.value == "out" and r.entry.verdict["allowed"]]
    assert len(exits) == 1, "a quota-breaking exit was journaled"
    assert rows[-1].entry.scanned_at < rows[-2].entry.scanned_at  # its clock really went back

    status = subprocess.run(
        [str(BIN / "checkpoint-scanner"), "status", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "时钟: 正常" in status.stdout  # the real clock is sane
    faked_status = subprocess.run(
        [FAKETIME or "", "-f", "-2d", str(BIN / "checkpoint-scanner"), "status", "--data-dir",
         str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert "时钟: ⚠ 异常" in faked_status.stdout
    assert "0 分钟前" not in faked_status.stdout  # never a bundle age below zero shown as fresh

    # The network comes back: the server stores all four as the scanner decided, flags the
    # one dated behind the device's clock mark, and holds exactly one allowed exit.
    server = ServerProcess(compound.env, tmp_path / "server.log")
    server.start()
    try:
        synced = subprocess.run(
            [
                *(str(BIN / "checkpoint-scanner"), "sync", "--server", server.url),
                *("--data-dir", str(data_dir)),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert synced.returncode == 0, synced.stdout + synced.stderr[-2000:]
    finally:
        server.stop()
    stored = _stored(compound.database_url, [row.entry.id for row in rows])
    assert len(stored) == 4
    assert [c.allowed for c in stored] == [True, True, False, False]
    # Dated two days back: before the device was even enrolled (rejected, kept with its
    # reason) or, on an older device, behind its clock mark (flagged clock_backwards).
    skewed_row = stored[-1]
    assert skewed_row.rejected or "clock_backwards" in skewed_row.flags.split()
    assert not skewed_row.rejected or skewed_row.rejection_reason
    assert sum(c.allowed and c.direction.value == "out" for c in stored) == 1
    print(describe(codes=",".join(str(code) for code in codes)))


def _stored(database_url: str, client_ids: list[str]) -> list[Crossing]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            found = session.scalars(select(Crossing).where(Crossing.client_id.in_(client_ids)))
            by_id = {crossing.client_id: crossing for crossing in found}
            return [by_id[client_id] for client_id in client_ids if client_id in by_id]
    finally:
        engine.dispose()
