"""Shared set-up for the fault tests: scale, a demo compound on SQLite, a gate server process,
offline crossings in a scanner journal, and checks of what the server stored.

Scale: ``CHECKPOINT_FAULT_SCALE`` is ``small`` (default: the whole folder runs in well under
three minutes on two cores) or ``full`` (the long-run counts). Under ``full`` every test is
also marked ``slow``, so run the long version with::

    CHECKPOINT_FAULT_SCALE=full python -m pytest -m faults tests/faults

(``-m faults`` replaces the default ``-m 'not slow'`` of pyproject.toml.)

Also runnable as ``python -m tests.faults.compound upload-and-die ...``: a scanner uploader
that SIGKILLs itself right after the N-th HTTP response arrived, before the journal records the
acknowledgement (used by test_kill_mid_sync).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from gate.crossings.chain import ChainHead, verify_chain
from gate.crossings.models import Crossing
from gate.db import make_engine, session_factory, transaction
from gate.demo import build_demo
from gate.devices.models import Gate
from gate.devices.operations import create_device
from gate.households.models import Household
from gate.issuing.operations import current_pass, pass_text
from gate.migrations import upgrade
from passes import Direction, parse_pass
from scanner.api_client import ApiClient
from scanner.journal import CrossingEntry, Journal
from scanner.sync import Uploader

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCALE_ENV = "CHECKPOINT_FAULT_SCALE"
SCALE = os.environ.get(SCALE_ENV, "small").strip().lower() or "small"
if SCALE not in ("small", "full"):
    raise RuntimeError(f"{SCALE_ENV} must be 'small' or 'full', not {SCALE!r}")
FULL = SCALE == "full"
MARKS = [pytest.mark.faults, *([pytest.mark.slow] if FULL else [])]
"""``pytestmark`` of every fault test module: ``faults``, plus ``slow`` at full scale."""

T = TypeVar("T")


def scaled(small: T, full: T) -> T:
    """``small`` or ``full`` by ``CHECKPOINT_FAULT_SCALE``."""
    return full if FULL else small


@contextmanager
def fast_dir(prefix: str) -> Iterator[Path]:
    """A scratch directory on tmpfs (/dev/shm) when there is one: fsync costs nothing there,
    which keeps the large counts fast. Use it only where durability is not under test."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix=prefix, dir=base) as name:
        yield Path(name)


# --- the compound ---------------------------------------------------------------------------


@dataclass
class DemoCompound:
    """The demo compound (``gate.demo.build_demo``) on a migrated SQLite file."""

    instance: Path
    env: dict[str, str]
    database_url: str
    texts: list[str]
    """The current pass of every household."""
    enrolment_codes: list[str]
    gate_id: int

    @property
    def database_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))


def build_compound(instance: Path, *, households: int = 40, devices: int = 1) -> DemoCompound:
    """Demo data with no week of history (every household is free to go out) and ``devices``
    scanners waiting to be enrolled at the demo's gate."""
    database_url = f"sqlite:///{instance / 'gate.sqlite3'}"
    env = {
        **os.environ,
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(instance),
        "CHECKPOINT_DATABASE_URL": database_url,
    }
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        # Set up half a day ago: the journals start hours back, and the gate rejects uploads
        # dated before their device was created.
        now = datetime.now(UTC) - timedelta(hours=12)
        with transaction(session_factory(engine)) as session:
            summary = build_demo(
                session, keys_dir=instance / "keys", now=now, households=households, days=0
            )
        with transaction(session_factory(engine)) as session:
            gate = session.scalars(select(Gate).order_by(Gate.id)).first()
            assert gate is not None
            codes = [summary.enrolment_code] + [
                create_device(
                    session, gate=gate, name=f"扫码机 {n}", actor="faults", now=now
                ).enrolment_code
                for n in range(2, devices + 1)
            ]
            texts = [
                pass_text(session, record)
                for row in session.scalars(select(Household).order_by(Household.id))
                if (record := current_pass(session, row)) is not None
            ]
            gate_id = gate.id
    finally:
        engine.dispose()
    return DemoCompound(instance, env, database_url, texts, codes, gate_id)


@dataclass(frozen=True)
class Enrolled:
    device_id: int
    token: str


def enroll(base_url: str, code: str, transport: httpx.BaseTransport | None = None) -> Enrolled:
    """Enrol a scanner over the API (no faults on this one request)."""
    with ApiClient(base_url, transport=transport) as client:
        answer = client.enroll(code, "fault-test scanner")
    return Enrolled(int(answer["device_id"]), str(answer["token"]))


# --- offline crossings in a journal ---------------------------------------------------------


def record_offline(
    journal: Journal, texts: Sequence[str], count: int, *, start: datetime, step_s: float = 2.0
) -> list[str]:
    """Record ``count`` offline crossings in ``journal``, households in turn, each going out
    then in, at increasing scan times. Returns the ids in recording order."""
    ids = []
    household_ids = [parse_pass(text).fields.household_id for text in texts]
    for n in range(count):
        which = n % len(texts)
        direction = Direction.OUT if (n // len(texts)) % 2 == 0 else Direction.IN
        entry = CrossingEntry(
            id=str(uuid.uuid4()),
            pass_text=texts[which],
            direction=direction,
            temperature=360 + n % 10,
            scanned_at=start + timedelta(seconds=n * step_s),
            verdict={"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1},
            offline=True,
            household_id=household_ids[which],
            operator="志愿者",
        )
        journal.record(entry)
        ids.append(entry.id)
    return ids


def journal_ids(path: Path) -> list[str]:
    """Every crossing id of a journal, in recording order."""
    with Journal(path) as journal:
        return [row.entry.id for row in journal.rows()]


# --- what the server stored -----------------------------------------------------------------


@dataclass(frozen=True)
class ServerRow:
    client_id: str
    device_id: int | None
    scanned_at: datetime
    gate_seq: int
    rejected: bool


def server_rows(database_url: str) -> list[ServerRow]:
    """Every crossing on the server, in ``gate_seq`` order."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine), read_only=True) as session:
            return [
                ServerRow(r.client_id, r.device_id, r.scanned_at, r.gate_seq, r.rejected)
                for r in session.scalars(select(Crossing).order_by(Crossing.gate_seq))
            ]
    finally:
        engine.dispose()


def assert_delivered_exactly_once(
    rows: Sequence[ServerRow], device_id: int, journal_order: Sequence[str]
) -> None:
    """The device's crossings on the server are exactly the journal's, each once, none
    rejected, and the office can rebuild the device's order from the server (by scan time,
    and by the gate's chain order)."""
    mine = [row for row in rows if row.device_id == device_id]
    ids = [row.client_id for row in mine]
    duplicates = len(ids) - len(set(ids))
    assert duplicates == 0, f"{duplicates} crossings stored more than once"
    missing = set(journal_order) - set(ids)
    assert not missing, f"{len(missing)} journal crossings never reached the server"
    extra = set(ids) - set(journal_order)
    assert not extra, f"{len(extra)} server crossings the journal never recorded"
    assert not [row for row in mine if row.rejected], "the server rejected valid crossings"
    by_scan_time = [row.client_id for row in sorted(mine, key=lambda r: r.scanned_at)]
    assert by_scan_time == list(journal_order), "scan-time order differs from the journal's"
    assert ids == list(journal_order), "the gate chain's order differs from the journal's"


def assert_chain_intact(database_url: str, gate_id: int) -> ChainHead:
    """The gate's hash chain verifies from the first row to the head."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine), read_only=True) as session:
            rows = session.scalars(
                select(Crossing).where(Crossing.gate_id == gate_id).order_by(Crossing.gate_seq)
            )
            result = verify_chain(gate_id, rows)
    finally:
        engine.dispose()
    assert isinstance(result, ChainHead), f"hash chain broken: {result}"
    return result


def sqlite_integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a SQLite file."""
    connection = sqlite3.connect(path)
    try:
        return [str(line[0]) for line in connection.execute("PRAGMA integrity_check")]
    finally:
        connection.close()


# --- a real gate server process -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``checkpoint serve`` (gunicorn: a master and a worker) in its own process group, so
    :meth:`kill` takes down both at once with SIGKILL, mid-request. ``program``: what runs
    ``serve`` (the ``checkpoint`` console script, or a wrapper such as ``server_kill.py``)."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        port: int | None = None,
        program: Sequence[str] = (str(BIN / "checkpoint"),),
    ) -> None:
        self.env, self.log, self.program = env, log, list(program)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.program, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                httpx.get(f"{self.url}/api/v1/bundle", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the server's whole process group (master and worker) and reap it."""
        if self.process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
            self.process = None
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
            self.process = None


# --- a scanner uploader that dies right after a response (child process) --------------------


class DieAfterResponse(httpx.BaseTransport):
    """Real HTTP; after the ``die_after``-th complete response: SIGKILL this process, before
    the uploader can record the server's acknowledgement in the journal."""

    def __init__(self, die_after: int, marker: Path) -> None:
        self._inner = httpx.HTTPTransport()
        self._die_after = die_after
        self._marker = marker
        self._seen = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = response.read()
        self._seen += 1
        if self._seen >= self._die_after:
            # Leave the acknowledged ids behind so the parent can check the window was hit.
            self._marker.write_bytes(body)
            os.kill(os.getpid(), signal.SIGKILL)
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    def close(self) -> None:
        self._inner.close()


def _upload_and_die(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journal", required=True, type=Path)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--die-after", required=True, type=int)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--marker", required=True, type=Path)
    args = parser.parse_args(argv)
    transport = DieAfterResponse(args.die_after, args.marker)
    with (
        Journal(args.journal) as journal,
        ApiClient(args.url, args.token, transport=transport) as client,
    ):
        report = Uploader(client, journal, batch_size=args.batch_size).upload_pending()
    print(report.error or "done", flush=True)


def run_upload_and_die(
    journal: Path, url: str, token: str, *, die_after: int, batch_size: int, marker: Path
) -> subprocess.CompletedProcess[str]:
    """Run the dying uploader in a child process and wait for it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.faults.compound",
            "upload-and-die",
            "--journal",
            str(journal),
            "--url",
            url,
            # One argument: a URL-safe token may begin with "-", which argparse would take
            # for an option if it stood alone.
            f"--token={token}",
            "--die-after",
            str(die_after),
            "--batch-size",
            str(batch_size),
            "--marker",
            str(marker),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["upload-and-die"]:
        _upload_and_die(argv[1:])
    else:
        raise SystemExit("usage: python -m tests.faults.compound upload-and-die ...")


def describe(**values: Any) -> str:
    """One line of ``key=value`` for the test's printed summary (shown with ``-s``/``-rA``)."""
    return " ".join(f"{key}={value}" for key, value in values.items())


if __name__ == "__main__":
    main(sys.argv[1:])
