"""A power-cut writer for the gate server's SQLite engine (``gate.db.make_engine``), for
tests/faults/test_gate_power_cut.py, on the harness of :mod:`tests.faults.powercut` (its fsync
shim: per file, only the content as of its last completed sync survives a cut).

The engine runs SQLite with ``synchronous=NORMAL`` and syncs the WAL itself after each writing
commit, outside the write turn (gate.db): the claim under test is that a transaction whose
``transaction()`` block returned is on disk. The writer (``python -m tests.faults.gate_powercut
write``) commits rows from several threads through ``transaction(sessions)``, each printing the
row's id once its block returned (acknowledged). ``--no-sync`` leaves out the engine's WAL sync
(the harness must then see losses).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
DATABASE_NAME = "gate.sqlite3"
LOCK_NAME = ".lock"
SCHEMA = "CREATE TABLE probe (id TEXT PRIMARY KEY, thread INTEGER, n INTEGER, pad TEXT)"


def _write(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-sync", action="store_true")
    args = parser.parse_args(argv)
    import gate.db

    if args.no_sync:
        gate.db._sync_file = lambda path: None  # type: ignore[assignment]
    engine = gate.db.make_engine(f"sqlite:///{args.database}")
    sessions = gate.db.session_factory(engine)
    printing = threading.Lock()

    def write(thread: int) -> None:
        for n in range(1_000_000):
            row_id = str(uuid.uuid4())
            with gate.db.transaction(sessions) as session:
                session.execute(
                    text("INSERT INTO probe VALUES (:id, :thread, :n, :pad)"),
                    {"id": row_id, "thread": thread, "n": n, "pad": "x" * 300},
                )
            with printing:  # acknowledged: the transaction block returned
                sys.stdout.write(row_id + "\n")
                sys.stdout.flush()

    threads = [threading.Thread(target=write, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class GateWriter:
    """The writer child under the shim; ``disk`` is watched, ``durable`` holds what survives."""

    def __init__(self, shim: Path, work: Path, *, sync: bool = True) -> None:
        self.disk, self.durable, self.images = work / "disk", work / "durable", work / "images"
        for folder in (self.disk, self.durable, self.images):
            folder.mkdir(parents=True)
        database = self.disk / DATABASE_NAME
        setup = sqlite3.connect(database)
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute(SCHEMA)
        setup.commit()
        setup.close()  # the last close: checkpointed, the WAL removed
        with database.open("rb") as handle:
            os.fsync(handle.fileno())
        shutil.copyfile(database, self.durable / DATABASE_NAME)  # the durable baseline
        (self.durable / LOCK_NAME).touch()
        env = {
            **os.environ,
            "LD_PRELOAD": str(shim),
            "POWERCUT_WATCH_DIR": str(self.disk.resolve()),
            "POWERCUT_SNAPSHOT_DIR": str(self.durable.resolve()),
        }
        command = [sys.executable, "-m", "tests.faults.gate_powercut", "write"]
        command += ["--database", str(database), *([] if sync else ["--no-sync"])]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.acknowledged: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._count = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.acknowledged.append(line.strip())

    def wait_for(self, count: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acknowledged) < count:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"the writer died: {stderr[-2000:]}")
            assert time.monotonic() < deadline, "the writer is stuck"
            time.sleep(0.005)

    def cut(self, *, kill: bool = False) -> tuple[list[str], set[str], list[str]]:
        """A power cut now (after SIGKILL with ``kill``): the ids acknowledged before it, the
        ids in the image after SQLite's recovery, and the image's integrity check."""
        import fcntl

        if kill:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self._reader.join(30)
        with (self.durable / LOCK_NAME).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                acknowledged = list(self.acknowledged)  # before the copy starts
                self._count += 1
                image = self.images / f"cut-{self._count:05d}"
                image.mkdir()
                for item in self.durable.iterdir():
                    if not item.name.startswith("."):
                        shutil.copyfile(item, image / item.name)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        connection = sqlite3.connect(image / DATABASE_NAME)  # WAL recovery, as a reboot
        try:
            integrity = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
            ids = {str(row[0]) for row in connection.execute("SELECT id FROM probe")}
        finally:
            connection.close()
        shutil.rmtree(image)
        return acknowledged, ids, integrity

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


if __name__ == "__main__":
    if sys.argv[1:2] != ["write"]:
        raise SystemExit("usage: python -m tests.faults.gate_powercut write --database PATH")
    _write(sys.argv[2:])
