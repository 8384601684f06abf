"""Online scans per second through ``POST /api/v1/scans`` over real HTTP, against gunicorn.

For each backend (a SQLite file; a PostgreSQL database the bench creates and drops) the bench
sets up a compound through the real operations (keys, households, passes, gates, enrolled
devices), then for each gunicorn worker count starts ``gunicorn gate.wsgi:app`` (gthread
workers), and N client threads (one keep-alive ``http.client`` connection each, one device
each, each device at its own gate) post scans for ``--seconds``. Each client owns its share
of the households and alternates out and in for each; the households are exempt from the
quota, so every scan is allowed and writes everything a crossing writes (crossing row,
household state, chain head). It prints the median and p95 latency and scans/s.

In the same run it measures the raw PostgreSQL commit rate of the same transaction with the
same concurrency: psycopg, one connection per thread, sending the very statements the API
sends for a scan (the device lookup; ``SELECT ... FOR UPDATE OF households, gates`` with
the head's name, the pass status, the replay check and the chain head; the ``INSERT`` of
the crossing carrying the household and gate ``UPDATE``s as CTEs; ``COMMIT``) against the
same tables, with none of HTTP, Flask, SQLAlchemy or the decision. It prints the API's
PostgreSQL rate as a share of it (target >= 50 %). For comparison with earlier runs it also
measures the previous, lighter raw shape (lock, insert, update on two bare tables).

The load generator runs on the same 2 cores as the server and PostgreSQL; it is kept light
(``http.client``: about 0.3 ms of CPU per request, measured from the process's CPU time,
where httpx took more) so that it takes little from them.

Usage::

    python bench/scan_api.py                               # workers 1,2,4; 10 s each
    python bench/scan_api.py --workers 2 --seconds 5 --backends postgresql
    CHECKPOINT_TEST_POSTGRES=postgresql://postgres@127.0.0.1/postgres python bench/scan_api.py
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
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
from collections.abc import Callable
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
from passes import HouseholdStatus, format_utc

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Fixture:
    """What the clients need: device tokens and pass texts."""

    tokens: list[str]
    passes: list[str]
    gate_ids: list[int]
    """The gate of each token's device."""
    directions: dict[str, str]
    """Each pass's next direction, kept across runs so every scan stays allowed."""


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
                # Exempt from the quota: every scan of the bench is allowed and writes it all.
                status=HouseholdStatus.EXEMPT,
            )
            session.add(row)
            rows.append(row)
        session.flush()
        passes = [
            issue_pass(session, row, actor="bench", now=now - timedelta(hours=1), key=key).text
            for row in rows
        ]
        codes, gate_ids = [], []
        for n in range(devices):
            gate = Gate(community_id=community.id, name=f"{n}号门", code=f"g{n}")
            session.add(gate)
            session.flush()
            gate_ids.append(gate.id)
            new = create_device(session, gate=gate, name=f"扫码机{n}", actor="bench", now=now)
            codes.append(new.enrolment_code)
    tokens = []
    with transaction(sessions) as session:
        for code in codes:
            tokens.append(enroll(session, code=code, now=now)[1])
    engine.dispose()
    rng.shuffle(passes)
    return Fixture(tokens, passes, gate_ids, dict.fromkeys(passes, "out"))


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


class Together:
    """Runs ``clients`` threads that start at once and loop for ``seconds``."""

    def __init__(self, clients: int, seconds: float) -> None:
        self.clients, self.seconds = clients, seconds
        self._barrier = threading.Barrier(clients + 1)
        self._stop_at = float("inf")

    def start(self) -> None:
        """Each client calls this once it is ready, then loops while :meth:`running`."""
        self._barrier.wait()

    def running(self) -> bool:
        return time.monotonic() < self._stop_at

    def run(self, client: Callable[[int], None]) -> float:
        """Run ``client(index)`` in each thread; return the seconds from start to the end."""
        threads = [threading.Thread(target=client, args=(n,)) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        self._stop_at = time.monotonic() + self.seconds
        began = time.monotonic()
        self._barrier.wait()
        for thread in threads:
            thread.join()
        return time.monotonic() - began


def drive_api(base: str, fixture: Fixture, clients: int, seconds: float, label: str) -> Result:
    """``clients`` threads posting scans as fast as answers come, for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = Counter[int]()
    clock = Together(clients, seconds)
    host, port = base.removeprefix("http://").split(":")

    def client(index: int) -> None:
        rng = random.Random(index)
        headers = {
            "Authorization": f"Bearer {fixture.tokens[index % len(fixture.tokens)]}",
            "Content-Type": "application/json",
        }
        # Each client scans its own share of the households, alternating out and in.
        mine = fixture.passes[index::clients]
        direction = fixture.directions  # each pass is scanned by one client only
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        clock.start()
        while clock.running():
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
            connection.request("POST", "/api/v1/scans", json.dumps(body), headers)
            answer = connection.getresponse()
            payload = answer.read()
            took_ms = (time.perf_counter() - began) * 1000
            if answer.status == 200 and json.loads(payload)["verdict"]["allowed"]:
                latencies[index].append(took_ms)
            else:
                errors[answer.status] += 1
        connection.close()

    elapsed = clock.run(client)
    flat = [x for part in latencies for x in part]
    if errors:
        print(f"    not 200 and allowed: {dict(errors)}")
    return Result(label, len(flat), sum(errors.values()), elapsed, flat)


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
    clock = Together(clients, seconds)

    def client(index: int) -> None:
        rng = random.Random(index)
        with psycopg.connect(conninfo) as connection:
            clock.start()
            while clock.running():
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

    elapsed = clock.run(client)
    flat = [x for part in latencies for x in part]
    label = f"raw, previous minimal shape, {clients} conns"
    return Result(label, len(flat), 0, elapsed, flat)


SAME_AUTH = (
    "SELECT devices.id, devices.gate_id, gates.community_id, devices.token_hash,"
    " devices.revoked_at, devices.last_seen_at, devices.last_backlog"
    " FROM devices JOIN gates ON devices.gate_id = gates.id WHERE devices.token_hash = %s"
)
SAME_LOCK_HOUSEHOLD_AND_GATE = (
    "SELECT households.id, households.code, households.generation, households.status,"
    " households.quarantine_until, households.state_json,"
    " (SELECT members.name FROM members WHERE members.household_id = households.id"
    "  ORDER BY members.is_head DESC, members.id LIMIT 1) AS head_name,"
    " (SELECT passes.status FROM passes WHERE passes.pass_id = %s) AS pass_status,"
    " (SELECT crossings.id FROM crossings WHERE crossings.client_id = %s) AS replay_of,"
    " gates.chain_seq, gates.chain_hash"
    " FROM households JOIN gates ON gates.community_id = households.community_id"
    " WHERE households.id = %s AND households.community_id = %s AND gates.id = %s"
    " FOR UPDATE OF households, gates"
)
SAME_INSERT = (
    "WITH advanced_gate AS (UPDATE gates SET chain_seq = %s, chain_hash = %s WHERE gates.id = %s),"
    " stored_state AS (UPDATE households SET out_count = %s, state_json = %s, updated_at = %s"
    "  WHERE households.id = %s)"
    " INSERT INTO crossings (client_id, community_id, gate_id, device_id, user_id,"
    " household_id, pass_id, direction, scanned_at, recorded_at, temperature_tenths, allowed,"
    " code, codes, flags, next_exit_at, rule_version, operator, override_reason,"
    " override_supervisor, offline, conflict, conflict_code, conflict_reviewed_at,"
    " conflict_reviewed_by, conflict_note, rejected, rejection_reason, latency_ms, gate_seq,"
    " prev_hash, row_hash) VALUES (%s, %s, %s, %s, NULL, %s, %s, %s, %s, %s, %s, true, NULL,"
    " '', '', NULL, 1, NULL, NULL, NULL, false, false, NULL, NULL, NULL, NULL, false, NULL,"
    " NULL, %s, %s, %s) RETURNING crossings.id"
)


def drive_raw_same(conninfo: str, fixture: Fixture, clients: int, seconds: float) -> Result:
    """The API's scan transaction, statement for statement, sent by psycopg without HTTP,
    Flask, SQLAlchemy or the decision (the values are made up, the work is the same)."""
    with psycopg.connect(conninfo) as connection:
        households = connection.execute(
            "SELECT p.pass_id, h.id, h.community_id FROM passes p"
            " JOIN households h ON h.id = p.household_id"
        ).fetchall()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    clock = Together(clients, seconds)

    def client(index: int) -> None:
        rng = random.Random(index)
        token_hash = hashlib.sha256(fixture.tokens[index].encode()).hexdigest()
        gate_id = fixture.gate_ids[index]
        mine = households[index::clients]
        out = dict.fromkeys((row[1] for row in mine), False)
        with psycopg.connect(conninfo) as connection:
            clock.start()
            while clock.running():
                pass_id, household, community = rng.choice(mine)
                client_id = str(uuid.uuid4())
                now = datetime.now(UTC).replace(tzinfo=None)
                out[household] = not out[household]
                began = time.perf_counter()
                with connection.transaction():
                    device = connection.execute(SAME_AUTH, (token_hash,)).fetchone()
                    assert device is not None
                    locked = connection.execute(
                        SAME_LOCK_HOUSEHOLD_AND_GATE,
                        (pass_id, client_id, household, community, gate_id),
                    ).fetchone()
                    assert locked is not None
                    seq, prev_hash = locked[-2:]
                    row_hash = hashlib.sha256(f"{prev_hash}{client_id}".encode()).hexdigest()
                    state = json.dumps({"out_since": [], "exits": []}, separators=(",", ":"))
                    connection.execute(
                        SAME_INSERT,
                        (
                            seq + 1,
                            row_hash,
                            gate_id,
                            int(out[household]),
                            state,
                            now,
                            household,
                            client_id,
                            community,
                            gate_id,
                            device[0],
                            household,
                            pass_id,
                            "out" if out[household] else "in",
                            now,
                            now,
                            365,
                            seq + 1,
                            prev_hash,
                            row_hash,
                        ),
                    ).fetchone()
                latencies[index].append((time.perf_counter() - began) * 1000)

    elapsed = clock.run(client)
    flat = [x for part in latencies for x in part]
    label = f"raw, the API's statements, {clients} conns"
    return Result(label, len(flat), 0, elapsed, flat)


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
    postgres_rates: dict[int, float] = {}
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
                        postgres_rates[workers] = result.rate
                if backend == "postgresql":
                    conninfo = make_url(url).set(drivername="postgresql")
                    plain = conninfo.render_as_string(hide_password=False)
                    same = drive_raw_same(plain, fixture, args.clients, args.seconds)
                    raw_rate = same.rate
                    print(same.line(), flush=True)
                    print(
                        drive_raw(plain, args.households, args.clients, args.seconds).line(),
                        flush=True,
                    )
            finally:
                if admin is not None:
                    with admin.connect() as connection:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
    if raw_rate and postgres_rates:
        print()
        for workers, rate in postgres_rates.items():
            share = rate / raw_rate
            verdict = "meets" if share >= 0.5 else "misses"
            print(
                f"API on PostgreSQL, {workers} worker(s) / raw, same statements: {share:.0%}"
                f" ({verdict} the 50 % target)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
