"""Online scans per second through ``POST /api/v1/scans`` over real HTTP, against gunicorn.

For each backend (a SQLite file; a PostgreSQL database the bench creates and drops) the bench
sets up a compound through the real operations (keys, households, passes, gates, enrolled
devices), then for each gunicorn worker count starts ``gunicorn gate.wsgi:app`` (gthread
workers), and N client threads (one keep-alive HTTP connection each, one device each, each
device at its own gate) post scans for random households for ``--seconds``. It prints the
median and p95 latency and scans/s.

In the same run it measures the raw PostgreSQL commit rate of a comparable transaction with
the same concurrency (psycopg, one connection per thread: ``SELECT ... FOR UPDATE`` a
household row, ``INSERT`` a crossing-like row, ``UPDATE`` the household, ``COMMIT``) and
prints the API's best PostgreSQL rate as a share of it (target >= 50 %).

Usage::

    python bench/scan_api.py                               # workers 1,2,4; 10 s each
    python bench/scan_api.py --workers 2 --seconds 5 --backends postgresql
    CHECKPOINT_TEST_POSTGRES=postgresql://postgres@127.0.0.1/postgres python bench/scan_api.py
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gate.community.models import Area, Building, Community, Compound, Grid
from gate.db import make_engine, normalize_url, session_factory, transaction
from gate.devices.models import Gate
from gate.devices.operations import create_device, enroll
from gate.households.models import Household, Member
from gate.issuing.operations import issue_pass
from gate.migrations import upgrade
from gate.signing.operations import active_signing_key, create_signing_key
from passes import format_utc

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Fixture:
    """What the clients need: device tokens and pass texts."""

    tokens: list[str]
    passes: list[str]


@dataclass(frozen=True)
class Result:
    label: str
    scans: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.scans / self.seconds

    def line(self) -> str:
        if not self.latencies_ms:
            return f"{self.label:<34} no successful requests ({self.errors} errors)"
        median = statistics.median(self.latencies_ms)
        p95 = statistics.quantiles(self.latencies_ms, n=20)[18]
        return (
            f"{self.label:<34} {self.rate:8.1f} /s   median {median:6.1f} ms   "
            f"p95 {p95:6.1f} ms   ({self.scans} ok, {self.errors} errors)"
        )


def set_up(url: str, instance: Path, *, households: int, devices: int) -> Fixture:
    """A migrated database with one community, its households and enrolled devices."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    rng = random.Random(1)
    with transaction(sessions) as session:
        community = Community(id=350322, name="基准小区", code="bench", timezone="Asia/Shanghai")
        session.add(community)
        session.flush()
        create_signing_key(
            session,
            community_id=community.id,
            keys_dir=instance / "keys",
            actor="bench",
            now=now - timedelta(days=1),
        )
        key = active_signing_key(session, community.id)
        area = Area(community=community, name="片区", code="A")
        building = Building(
            compound=Compound(grid=Grid(area=area, name="网格", code="G"), name="小区", code="P"),
            name="1号楼",
            code="1",
        )
        session.add_all([area, building])
        session.flush()
        rows = []
        for n in range(households):
            row = Household(
                id=100_000 + n,
                community_id=community.id,
                building=building,
                code=f"1-1-{n}",
                members=[Member(name=f"居民{n}", is_head=True)],
            )
            session.add(row)
            rows.append(row)
        session.flush()
        passes = [
            issue_pass(session, row, actor="bench", now=now - timedelta(hours=1), key=key).text
            for row in rows
        ]
        codes = []
        for n in range(devices):
            gate = Gate(community_id=community.id, name=f"{n}号门", code=f"g{n}")
            session.add(gate)
            session.flush()
            new = create_device(session, gate=gate, name=f"扫码机{n}", actor="bench", now=now)
            codes.append(new.enrolment_code)
    tokens = []
    with transaction(sessions) as session:
        for code in codes:
            tokens.append(enroll(session, code=code, now=now)[1])
    engine.dispose()
    rng.shuffle(passes)
    return Fixture(tokens, passes)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_gunicorn(
    url: str, instance: Path, workers: int, threads: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CHECKPOINT_DATABASE_URL": url,
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(instance),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "gate.wsgi:app",
    ]
    process = subprocess.Popen(command, env=env)
    return process, f"http://127.0.0.1:{port}"


def wait_ready(base: str, token: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            answer = httpx.get(
                f"{base}/api/v1/bundle", headers={"Authorization": f"Bearer {token}"}
            )
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 30 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def drive_api(base: str, fixture: Fixture, clients: int, seconds: float, label: str) -> Result:
    """``clients`` threads posting scans as fast as answers come, for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = Counter[int]()
    start = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def client(index: int) -> None:
        rng = random.Random(index)
        headers = {"Authorization": f"Bearer {fixture.tokens[index % len(fixture.tokens)]}"}
        # Each client scans its own share of the households, alternating out and in.
        mine = fixture.passes[index::clients]
        direction = dict.fromkeys(mine, "out")
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            start.wait()
            while time.monotonic() < stop_at[0]:
                card = rng.choice(mine)
                body = {
                    "id": str(uuid.uuid4()),
                    "pass": card,
                    "direction": direction[card],
                    "temperature": rng.randint(358, 369),
                    "scanned_at": format_utc(datetime.now(UTC)),
                }
                direction[card] = "in" if direction[card] == "out" else "out"
                began = time.perf_counter()
                answer = http.post("/api/v1/scans", json=body)
                elapsed = (time.perf_counter() - began) * 1000
                if answer.status_code == 200:
                    latencies[index].append(elapsed)
                else:
                    errors[answer.status_code] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + seconds)
    began = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join()
    flat = [x for part in latencies for x in part]
    if errors:
        print(f"    non-200 answers: {dict(errors)}")
    return Result(label, len(flat), sum(errors.values()), time.monotonic() - began, flat)


RAW_SCHEMA = """
CREATE TABLE raw_households (id bigint PRIMARY KEY, state_json text NOT NULL,
                             out_count int NOT NULL, updated_at timestamp NOT NULL);
CREATE TABLE raw_crossings (id bigserial PRIMARY KEY, client_id varchar(36) UNIQUE NOT NULL,
                            household_id bigint NOT NULL, direction varchar(8) NOT NULL,
                            scanned_at timestamp NOT NULL, temperature_tenths smallint,
                            allowed boolean NOT NULL, codes text NOT NULL,
                            row_hash varchar(64) NOT NULL);
"""


def drive_raw(conninfo: str, households: int, clients: int, seconds: float) -> Result:
    """The raw commit rate of a scan-like transaction with psycopg, ``clients`` connections."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS raw_crossings, raw_households")
        connection.execute(RAW_SCHEMA)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO raw_households VALUES (%s, '{}', 0, now())",
                [(n,) for n in range(households)],
            )
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop_at: list[float] = []

    def client(index: int) -> None:
        rng = random.Random(index)
        with psycopg.connect(conninfo) as connection:
            start.wait()
            while time.monotonic() < stop_at[0]:
                household = rng.randrange(households)
                began = time.perf_counter()
                with connection.transaction():
                    row = connection.execute(
                        "SELECT state_json, out_count FROM raw_households WHERE id = %s FOR UPDATE",
                        (household,),
                    ).fetchone()
                    assert row is not None
                    connection.execute(
                        "INSERT INTO raw_crossings (client_id, household_id, direction,"
                        " scanned_at, temperature_tenths, allowed, codes, row_hash)"
                        " VALUES (%s, %s, 'out', now(), 365, true, '', %s)",
                        (str(uuid.uuid4()), household, secrets.token_hex(32)),
                    )
                    connection.execute(
                        "UPDATE raw_households SET out_count = %s, updated_at = now()"
                        " WHERE id = %s",
                        ((row[1] + 1) % 2, household),
                    )
                latencies[index].append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + seconds)
    began = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join()
    flat = [x for part in latencies for x in part]
    label = f"raw psycopg txn, {clients} connections"
    return Result(label, len(flat), 0, time.monotonic() - began, flat)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({model}), "
        f"Python {platform.python_version()}, load average {load:.2f} at start"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="gunicorn worker counts [1,2,4]")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker [4]")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement [10]")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients [16]")
    parser.add_argument("--households", type=int, default=2000, help="[2000]")
    parser.add_argument("--backends", default="sqlite,postgresql", help="[sqlite,postgresql]")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CHECKPOINT_TEST_POSTGRES") or DEFAULT_POSTGRES,
        help="admin URL of the PostgreSQL server (a bench database is created there)",
    )
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",")]
    print(machine())
    print(
        f"{args.clients} clients, {args.households} households, one device per client, "
        f"{args.seconds:g} s per measurement, gthread workers x {args.threads} threads"
    )
    best_postgres = 0.0
    raw_rate = 0.0
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="checkpoint-bench-") as directory:
            instance = Path(directory)
            admin = None
            if backend == "sqlite":
                url = f"sqlite:///{instance / 'bench.sqlite3'}"
            else:
                admin_url = normalize_url(args.postgres)
                admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
                name = f"checkpoint_bench_{secrets.token_hex(4)}"
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                url = admin_url.set(database=name).render_as_string(hide_password=False)
            try:
                print(f"\n[{backend}] setting up ...", flush=True)
                fixture = set_up(url, instance, households=args.households, devices=args.clients)
                for workers in worker_counts:
                    process, base = start_gunicorn(url, instance, workers, args.threads)
                    try:
                        wait_ready(base, fixture.tokens[0], process)
                        label = f"API {backend}, {workers} worker(s)"
                        result = drive_api(base, fixture, args.clients, args.seconds, label)
                    finally:
                        stop(process)
                    print(result.line(), flush=True)
                    if backend == "postgresql":
                        best_postgres = max(best_postgres, result.rate)
                if backend == "postgresql":
                    conninfo = make_url(url).set(drivername="postgresql")
                    raw = drive_raw(
                        conninfo.render_as_string(hide_password=False),
                        args.households,
                        args.clients,
                        args.seconds,
                    )
                    raw_rate = raw.rate
                    print(raw.line(), flush=True)
            finally:
                if admin is not None:
                    with admin.connect() as connection:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
    if raw_rate and best_postgres:
        share = best_postgres / raw_rate
        verdict = "meets" if share >= 0.5 else "misses"
        print(
            f"\nAPI on PostgreSQL (best) / raw commit rate: {share:.0%} ({verdict} the 50 % target)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
