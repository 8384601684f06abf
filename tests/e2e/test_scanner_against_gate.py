"""The scanner and the gate server across their only contract, HTTP, on SQLite.

A real ``checkpoint serve`` on a loopback port and the real ``checkpoint-scanner``
commands: enrol, scan online, lose the server, scan offline from the bundle, get the
server back, sync, and find every crossing on the server exactly once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from gate.crossings.models import Crossing
from gate.db import make_engine, session_factory, transaction
from gate.demo import build_demo
from gate.households.decision_state import household_state
from gate.households.models import Household
from gate.issuing.operations import current_pass, pass_text
from gate.migrations import upgrade
from passes import render_png, wire
from scanner.api_client import ApiClient
from scanner.device import load_device

BIN = Path(sys.executable).parent
VECTORS = Path(__file__).parents[1] / "passes" / "vectors" / "wire_v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``checkpoint serve`` as a child process that can be stopped and started again."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "checkpoint"), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/api/v1/bundle", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def compound(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str], list[str], str]]:
    instance = tmp_path / "instance"
    env = {
        **os.environ,
        "CHECKPOINT_INSTANCE_DIR": str(instance),
        "CHECKPOINT_DATABASE_URL": f"sqlite:///{instance / 'gate.sqlite3'}",
    }
    engine = make_engine(env["CHECKPOINT_DATABASE_URL"])
    upgrade(engine)
    with transaction(session_factory(engine)) as session:
        summary = build_demo(
            session, keys_dir=instance / "keys", now=datetime.now(UTC), households=40, days=0
        )
    with transaction(session_factory(engine)) as session:
        rows = session.scalars(select(Household).order_by(Household.id)).all()
        texts = [
            pass_text(session, record)
            for row in rows
            if (record := current_pass(session, row)) is not None
            and not household_state(row).exits
            and row.status.value == "normal"
        ]
    engine.dispose()
    assert len(texts) >= 7, "the demo left too few households free to go out"
    server = Server(env, _free_port(), tmp_path / "server.log")
    server.start()
    try:
        yield server, env, texts, summary.enrolment_code
    finally:
        server.stop()


def _scanner(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "checkpoint-scanner"), *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def _cards(directory: Path, texts: list[str]) -> Path:
    directory.mkdir()
    for index, text in enumerate(texts):
        (directory / f"card-{index:02d}.png").write_bytes(render_png(text))
    return directory


def _scan_from_the_golden_vector(server: Server, data: Path, pass_text: str) -> None:
    """The first scan vector, with this compound's pass, a new id and the time now, sent by
    the scanner's own client to the real gate: the answer is a v1 verdict for that id."""
    vectors = json.loads((VECTORS / "scan.json").read_text("utf-8"))
    body = vectors["valid"][0]["json"]
    scan = wire.Scan.from_json(
        {**body, "id": str(uuid.uuid4()), "pass": pass_text, "scanned_at": _now_text()}
    )
    assert (scan.direction.value, scan.temperature) == ("out", 365)
    device = load_device(data)
    assert device is not None
    with ApiClient(server.url, device.token) as client:
        answer = client.scan(scan, deadline_s=10)
    assert answer.id == scan.id
    assert (answer.verdict.allowed, answer.verdict.display) == (True, "allow")
    assert answer.replay is False


def _now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def test_scanner_decides_online_then_offline_and_sync_delivers_each_crossing_once(
    compound: tuple[Server, dict[str, str], list[str], str], tmp_path: Path
) -> None:
    server, env, texts, code = compound
    data = tmp_path / "scanner"
    enrolled = _scanner(
        env, "enroll", "--server", server.url, "--code", code, "--data-dir", str(data)
    )
    assert enrolled.returncode == 0, enrolled.stderr
    _scan_from_the_golden_vector(server, data, texts[6])
    run_args = [
        "--headless",
        "--thermometer",
        "fixed:36.5",
        "--direction",
        "out",
        "--data-dir",
        str(data),
        "--hold",
        "0",
    ]

    online = _scanner(env, "run", "--images", str(_cards(tmp_path / "a", texts[:3])), *run_args)
    online_verdicts = [json.loads(line) for line in online.stdout.splitlines() if line.strip()]
    assert len(online_verdicts) == 3, online.stdout + online.stderr
    assert all(v["kind"] == "allow" for v in online_verdicts), online_verdicts
    assert all(v["online"] for v in online_verdicts)

    server.stop()
    offline = _scanner(env, "run", "--images", str(_cards(tmp_path / "b", texts[3:6])), *run_args)
    offline_verdicts = [json.loads(line) for line in offline.stdout.splitlines() if line.strip()]
    assert len(offline_verdicts) == 3, offline.stdout + offline.stderr
    assert not any(v["online"] for v in offline_verdicts)
    assert all(v["kind"] == "allow" for v in offline_verdicts)

    server.start()
    for _attempt in range(2):  # the second sync must find nothing left to send
        synced = _scanner(env, "sync", "--data-dir", str(data))
        assert synced.returncode == 0, synced.stdout + synced.stderr

    engine = make_engine(env["CHECKPOINT_DATABASE_URL"])
    try:
        with transaction(session_factory(engine), read_only=True) as session:
            device_rows = session.execute(
                select(Crossing.offline, func.count())
                .where(Crossing.device_id.is_not(None), Crossing.operator.is_(None))
                .group_by(Crossing.offline)
            ).all()
            duplicates = session.scalar(
                select(func.count()).select_from(
                    select(Crossing.client_id)
                    .group_by(Crossing.client_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
    finally:
        engine.dispose()
    assert dict(device_rows) == {False: 3, True: 3}
    assert duplicates == 0
    status = _scanner(env, "status", "--data-dir", str(data), "--json")
    counts = json.loads(status.stdout)["counts"]
    assert counts == {"unsent": 0, "sent": 6, "dead": 0}
