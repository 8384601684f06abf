"""A gate server that SIGKILLs itself mid-batch, at a point the test chose (used by
test_kill_mid_sync).

Run as ``python tests/faults/server_kill.py serve --port N`` (any ``checkpoint`` command line)
with ``CHECKPOINT_FAULT_KILL_PLAN`` naming a file. The server is the real ``checkpoint serve``
(gunicorn master and worker, the real upload code), plus one SQLAlchemy ``after_commit``
listener: when the plan file exists and holds ``{"device_id": D, "at_least": N}``, the first
commit after which the server's database holds at least N crossings of device D writes
``<plan>.killed`` (the count it saw) and SIGKILLs the server's whole process group, from
inside the request that made the commit. So the kill lands after that commit and before the
request's answer leaves the server, on every run, however loaded the machine: no test thread
has to win a race against the upload to hit the window.

Why inside the server: the test used to poll the database and SIGKILL the server from
outside once enough items were committed. The commit that reached the count could be the
batch's last, and then the answer could reach the uploader before the kill did (the round
then tested nothing, and failed as "the uploader did not notice the dead server").

This file is run as a script, not imported by the test (it must be importable without the
``tests`` package on the path of the server process).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

PLAN_ENV = "CHECKPOINT_FAULT_KILL_PLAN"
DATABASE_ENV = "CHECKPOINT_DATABASE_URL"


def killed_marker(plan: Path) -> Path:
    """Where the server notes the count at which it killed itself."""
    return plan.with_name(plan.name + ".killed")


def arm(plan: Path, *, device_id: int, at_least: int) -> None:
    """Make the server behind ``plan`` kill itself once device ``device_id`` has at least
    ``at_least`` crossings stored. Written atomically: the server reads it on every commit."""
    killed_marker(plan).unlink(missing_ok=True)
    temporary = plan.with_name(plan.name + ".tmp")
    temporary.write_text(json.dumps({"device_id": device_id, "at_least": at_least}))
    temporary.replace(plan)


def disarm(plan: Path) -> None:
    """Let the server behind ``plan`` run undisturbed."""
    plan.unlink(missing_ok=True)


def stored_count(database: Path, device_id: int) -> int:
    """Crossings of ``device_id`` committed in the SQLite file ``database`` (read-only)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        row = connection.execute(
            "SELECT count(*) FROM crossings WHERE device_id = ?", (device_id,)
        ).fetchone()
        return int(row[0])
    finally:
        connection.close()


def _install(plan: Path, database: Path) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    def after_commit(session: Session) -> None:
        try:
            target = json.loads(plan.read_text())
        except FileNotFoundError:
            return
        count = stored_count(database, int(target["device_id"]))
        if count >= int(target["at_least"]):
            killed_marker(plan).write_text(json.dumps({"stored": count}))
            os.killpg(os.getpgrp(), signal.SIGKILL)

    event.listen(Session, "after_commit", after_commit)


def main() -> None:
    plan = os.environ.get(PLAN_ENV)
    database = os.environ.get(DATABASE_ENV, "")
    if plan:
        if not database.startswith("sqlite:///"):
            raise SystemExit(f"{PLAN_ENV} needs a SQLite {DATABASE_ENV}, not {database!r}")
        _install(Path(plan), Path(database.removeprefix("sqlite:///")))
    from gate.cli import main as checkpoint

    sys.argv[0] = "checkpoint"
    checkpoint()


if __name__ == "__main__":
    main()
