"""Online scans per second through ``POST /api/v1/scans`` over real HTTP, against gunicorn,
beside the raw PostgreSQL transaction of the same statements, with the machine CPU per scan.

For each backend (a SQLite file; a PostgreSQL database the bench creates and drops) the bench
sets up a compound through the real operations (keys, households, passes, gates, enrolled
devices), then for each gunicorn worker count starts gunicorn on ``gate.wsgi:app`` with
``deploy/gunicorn.conf.py`` (its worker model) and N clients (one keep-alive
``http.client`` connection each, one device each, each device at its own gate) post scans
for ``--seconds``. The clients run as threads in ``--client-processes`` processes, so no one
client process (one GIL) limits the rate. Each client owns its share of the households and
alternates out and in for each; the households are exempt from the quota, so every scan is
allowed and writes everything a crossing writes (crossing row, household state, chain head).

In the same run it measures the raw PostgreSQL commit rate of the same transaction: psycopg,
one connection per client, sending the very statements the API sends for a scan (the device
lookup; ``SELECT ... FOR UPDATE OF households, gates`` with the head's name, the pass status,
the replay check and the chain head; the ``INSERT`` of the crossing carrying the household and
gate ``UPDATE``s as CTEs; ``COMMIT``) against the same tables, with none of HTTP, Flask,
SQLAlchemy or the decision. The raw clients run in ``--client-processes`` processes and then
in twice as many: the second figure is printed beside the first (the check that adding client
processes does not raise the raw rate, i.e. the clients are not what limits it).

Rates depend on the cores free (the bench machine is shared), so each measurement also prints
its CPU cost per scan from ``/proc``: the server (the gunicorn master and its workers), the
database (the PostgreSQL backends of the bench database, plus the server's shared background
processes: wal writer, checkpointer, ...), and the clients (their processes' own CPU time);
and the load average. The target is a machine CPU per scan (server + database + clients) of
at most 2x the raw transaction's (database + its clients).

``--profile DIR`` records the gunicorn workers with py-spy (``pip install py-spy``) during
each API measurement, as collapsed stacks (``DIR/api-<backend>-<n>w.txt``), and prints the
top frames by own and by inclusive samples.

Usage::

    python bench/scan_api.py                               # workers 1,2,4; 10 s each
    python bench/scan_api.py --workers 2 --seconds 5 --backends postgresql
    CHECKPOINT_TEST_POSTGRES=postgresql://postgres@127.0.0.1/postgres python bench/scan_api.py
    # before/after in one run: the server and app of a git revision beside this tree's
    python bench/scan_api.py --backends postgresql --servers gunicorn@9320994,gunicorn
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import http.client
import json
import multiprocessing
import os
import platform
import random
import secrets
import shutil
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
from typing import Any

import httpx
import proc_cpu
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

SHARED = "db background"
"""PostgreSQL's own processes (wal writer, checkpointer, autovacuum): shared by every database
on the server, so on a shared machine they carry others' work too."""
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


DEPLOY_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def start_gunicorn(
    url: str,
    instance: Path,
    workers: int,
    threads: int,
    worker_class: str | None,
    server: str = "gunicorn",
) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn with the deployment's configuration, ``workers`` workers on a free port (no
    worker recycling: a worker exiting inside a window would take its CPU time with it);
    ``server="granian"``: granian's WSGI server instead (``threads`` blocking threads a
    worker, its access log on), for an A/B; ``"uwsgi"``: uWSGI (``pip install pyuwsgi``;
    ``--http11-socket`` keep-alive, ``workers`` processes x ``threads`` threads, a request log
    line like gunicorn's), an A/B too; ``"gunicorn@REV"``: the server and app of git
    revision REV (exported once; same schema assumed), for a before/after in one run."""
    port = free_port()
    env = {
        **os.environ,
        "CHECKPOINT_DATABASE_URL": url,
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(instance),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_LOGLEVEL": "warning",
    }
    config, cwd = DEPLOY_CONFIG, None
    if server.startswith("gunicorn@"):
        cwd = exported(server.removeprefix("gunicorn@"))
        config = cwd / "deploy" / "gunicorn.conf.py"
        env["PYTHONPATH"] = os.pathsep.join([str(cwd), env.get("PYTHONPATH", "")])
    if server == "granian":  # an A/B candidate (pip install granian), not what is deployed
        command = [
            *(sys.executable, "-m", "granian", "--interface", "wsgi", "--no-ws"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--blocking-threads", str(threads), "--access-log", "--log-level", "warning"),
        ]
    elif server == "uwsgi":  # an A/B candidate (pip install pyuwsgi), not what is deployed
        command = [
            str(Path(sys.executable).parent / "uwsgi"),
            *("--http11-socket", f"127.0.0.1:{port}", "--master", "--lazy-apps"),
            *("--processes", str(workers), "--threads", str(threads), "--die-on-term"),
            *("--log-format", "[%(ltime)] %(method) %(uri) %(status) %(msecs)ms %(size)"),
            *("--logto", os.devnull, "--module"),
        ]
    else:
        command = [sys.executable, "-m", "gunicorn", "--config", str(config)]
        if worker_class:
            command += ["--worker-class", worker_class]
    command.append("gate.wsgi:app")
    # The access log is written as deployed (one line a request), to nowhere.
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=cwd)
    return process, f"http://127.0.0.1:{port}"


_EXPORTS: dict[str, Path] = {}


def exported(revision: str) -> Path:
    """The tree of git ``revision`` of this repository, exported to a temporary folder."""
    if revision not in _EXPORTS:
        target = Path(tempfile.mkdtemp(prefix="checkpoint-bench-rev-"))
        atexit.register(shutil.rmtree, target, ignore_errors=True)
        root = Path(__file__).resolve().parent.parent
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", revision], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        _EXPORTS[revision] = target
    return _EXPORTS[revision]


def wait_ready(base: str, token: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a busy shared machine starts workers slowly
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
    raise SystemExit("gunicorn did not answer within 120 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class ClientOutcome:
    """What one client thread measured."""

    latencies_ms: list[float]
    errors: Counter[int]
    extra: dict[str, str]


class Clock:
    """A client thread's side of a measurement: :meth:`start` once set up, loop while
    :meth:`running`, then :meth:`finish` with the outcome *before* closing connections (it
    waits until the CPU of the window was read, so no backend exits inside the window)."""

    def __init__(self, threads: int, released: Any) -> None:
        self._ready = threading.Barrier(threads + 1, timeout=300)
        self._done = threading.Barrier(threads + 1, timeout=600)
        self._go = threading.Event()
        self._released = released
        self.stop_at = float("inf")
        self.outcomes: list[ClientOutcome] = []

    def start(self) -> None:
        self._ready.wait()
        self._go.wait()

    def running(self) -> bool:
        return time.monotonic() < self.stop_at

    def finish(self, outcome: ClientOutcome) -> None:
        self.outcomes.append(outcome)
        self._done.wait()
        self._released.wait(600)


ClientFn = Callable[[int, Clock], None]
"""``client(index, clock)``: set up, ``clock.start()``, loop while ``clock.running()``, then
``clock.finish(outcome)``."""


@dataclass(frozen=True)
class Measured:
    """One measurement: the rate, the latencies and the CPU spent per process group."""

    label: str
    scans: int
    errors: Counter[int]
    seconds: float
    latencies_ms: list[float]
    cpu_s: dict[str, float]
    """CPU seconds per group (``server``, ``database``, ``db background``, ``clients``)."""
    machine_busy_s: float
    """CPU seconds all CPUs were busy in the window (every user of the machine)."""
    load: float
    extra: dict[str, str]
    kernel_s: dict[str, float]
    """The kernel's part of some groups' CPU seconds (the server's: its system time)."""

    @property
    def rate(self) -> float:
        return self.scans / self.seconds

    def per_scan_ms(self, group: str | None = None) -> float:
        """CPU ms per scan of ``group`` (None: the machine CPU per scan: server, the bench
        database's backends and the clients; not ``db background``, which is shared with every
        other database on the server: printed, not counted)."""
        if group is None:
            spent = sum(v for k, v in self.cpu_s.items() if k != SHARED)
        else:
            spent = self.cpu_s.get(group, 0.0)
        return spent * 1000 / max(self.scans, 1)

    def line(self) -> str:
        if not self.latencies_ms:
            return f"{self.label:<40} no successful requests ({dict(self.errors)} errors)"
        median = statistics.median(self.latencies_ms)
        p95 = statistics.quantiles(self.latencies_ms, n=20)[18]
        errors = f", not 200+allowed: {dict(self.errors)}" if self.errors else ""
        return (
            f"{self.label:<40} {self.rate:8.1f} /s   median {median:6.1f} ms   "
            f"p95 {p95:6.1f} ms   ({self.scans} ok{errors})"
        )

    def database_ms(self) -> float:
        """The database's CPU ms per scan (the bench database's backends)."""
        return self.per_scan_ms("database")

    def cpu_line(self) -> str:
        parts = ", ".join(
            f"{group} {self.per_scan_ms(group):.2f}"
            + (
                f" (kernel {self.kernel_s[group + ' kernel'] * 1000 / max(self.scans, 1):.2f})"
                if group + " kernel" in self.kernel_s
                else ""
            )
            for group in self.cpu_s
            if self.cpu_s[group]
        )
        cores = self.machine_busy_s / self.seconds
        return (
            f"{'':<4}CPU per scan {self.per_scan_ms():.2f} ms ({parts}; {SHARED} not counted);"
            " machine busy "
            f"{cores:.2f} of {os.cpu_count()} cores (all users), load {self.load:.2f}"
        )


def _client_process(
    client: ClientFn,
    indices: list[int],
    seconds: float,
    together: Any,
    released: Any,
    queue: Any,
) -> None:
    """One client process: a thread per index, started together with the other processes."""
    clock = Clock(len(indices), released)
    threads = [threading.Thread(target=client, args=(n, clock)) for n in indices]
    for each in threads:
        each.start()
    clock._ready.wait()
    together.wait()
    began, cpu_before = time.monotonic(), proc_cpu.self_cpu_s()
    clock.stop_at = began + seconds
    clock._go.set()
    clock._done.wait()
    queue.put((clock.outcomes, time.monotonic() - began, proc_cpu.self_cpu_s() - cpu_before))
    for each in threads:
        each.join()


def run_clients(
    client: ClientFn,
    *,
    clients: int,
    processes: int,
    seconds: float,
    label: str,
    groups: dict[str, Callable[[proc_cpu.Proc], bool]],
) -> Measured:
    """Run ``clients`` client threads spread over ``processes`` forked processes for
    ``seconds``; measure the CPU of ``groups`` (and of the client processes) meanwhile."""
    context = multiprocessing.get_context("fork")
    processes = max(1, min(processes, clients))
    together = context.Barrier(processes + 1, timeout=300)
    released = context.Event()
    queue = context.Queue()
    children = [
        context.Process(
            target=_client_process,
            args=(client, list(range(p, clients, processes)), seconds, together, released, queue),
        )
        for p in range(processes)
    ]
    for child in children:
        child.start()
    together.wait()
    before, busy_before = proc_cpu.snapshot(), proc_cpu.machine_busy_s()
    results = [queue.get(timeout=seconds + 300) for _ in children]
    after, busy_after = proc_cpu.snapshot(), proc_cpu.machine_busy_s()
    released.set()
    for child in children:
        child.join()
    cpu = {group: proc_cpu.spent(before, after, member) for group, member in groups.items()}
    kernel = {
        f"{group} kernel": proc_cpu.spent(before, after, member, system=True)
        for group, member in groups.items()
        if group == "server"
    }
    cpu["clients"] = sum(result[2] for result in results)
    outcomes = [outcome for result in results for outcome in result[0]]
    latencies = [x for outcome in outcomes for x in outcome.latencies_ms]
    errors = sum((outcome.errors for outcome in outcomes), Counter[int]())
    extra = {k: v for outcome in outcomes for k, v in outcome.extra.items()}
    elapsed = max(result[1] for result in results)
    load = os.getloadavg()[0]
    return Measured(
        label,
        len(latencies),
        errors,
        elapsed,
        latencies,
        cpu,
        busy_after - busy_before,
        load,
        extra,
        kernel,
    )


def api_client(base: str, fixture: Fixture, clients: int) -> ClientFn:
    """A client posting scans as fast as answers come; ``extra``: each of its passes' next
    direction (carried to the next measurement)."""
    host, port = base.removeprefix("http://").split(":")

    def client(index: int, clock: Clock) -> None:
        rng = random.Random(index)
        headers = {
            "Authorization": f"Bearer {fixture.tokens[index % len(fixture.tokens)]}",
            "Content-Type": "application/json",
        }
        # Each client scans its own share of the households, alternating out and in.
        mine = fixture.passes[index::clients]
        direction = {card: fixture.directions[card] for card in mine}
        outcome = ClientOutcome([], Counter(), {})
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
            began = time.perf_counter()
            connection.request("POST", "/api/v1/scans", json.dumps(body), headers)
            answer = connection.getresponse()
            payload = answer.read()
            took_ms = (time.perf_counter() - began) * 1000
            if answer.status == 200 and json.loads(payload)["verdict"]["allowed"]:
                outcome.latencies_ms.append(took_ms)
                direction[card] = "in" if direction[card] == "out" else "out"
            else:
                outcome.errors[answer.status] += 1
        outcome.extra.update(direction)
        clock.finish(outcome)
        connection.close()

    return client


def api_statements() -> dict[str, tuple[str, dict[str, Any]]]:
    """The scan path's own statements compiled for PostgreSQL (psycopg), with their fixed
    parameters: the raw clients send this very SQL text, so the comparison stays the API's
    even when the statements change."""
    from gate.crossings import persistence
    from gate.devices import operations as devices

    dialect = create_engine("postgresql+psycopg://").dialect  # never connects
    chosen = {
        "auth": devices._AUTHENTICATE,
        "lock": persistence._LOCK_HOUSEHOLD_AND_GATE,
        "insert": persistence._INSERT_ADVANCING_GATE_AND_STATE,
    }
    compiled = {name: statement.compile(dialect=dialect) for name, statement in chosen.items()}
    return {name: (str(done), dict(done.params)) for name, done in compiled.items()}


def raw_client(conninfo: str, fixture: Fixture, clients: int) -> ClientFn:
    """The API's scan transaction, statement for statement (the same SQL text, see
    :func:`api_statements`), sent by psycopg without HTTP, Flask, SQLAlchemy or the decision
    (the values are made up, the work is the same): ``BEGIN``, the device lookup, the lock of
    household and gate with all the decision reads, the crossing's insert with the gate's and
    the household's updates as CTEs, ``COMMIT``."""
    from gate.crossings.persistence import STORED_COLUMNS

    statements = api_statements()
    with psycopg.connect(conninfo) as connection:
        households = connection.execute(
            "SELECT p.pass_id, h.id, h.community_id FROM passes p"
            " JOIN households h ON h.id = p.household_id"
        ).fetchall()

    def client(index: int, clock: Clock) -> None:
        rng = random.Random(index)
        token_hash = hashlib.sha256(fixture.tokens[index].encode()).hexdigest()
        gate_id = fixture.gate_ids[index]
        mine = households[index::clients]
        out = dict.fromkeys((row[1] for row in mine), False)
        outcome = ClientOutcome([], Counter(), {})
        auth_sql, auth_fixed = statements["auth"]
        lock_sql, lock_fixed = statements["lock"]
        insert_sql, insert_fixed = statements["insert"]
        with psycopg.connect(conninfo) as connection:
            clock.start()
            while clock.running():
                pass_id, household, community = rng.choice(mine)
                client_id = str(uuid.uuid4())
                now = datetime.now(UTC).replace(tzinfo=None)
                out[household] = not out[household]
                began = time.perf_counter()
                with connection.transaction():
                    device = connection.execute(
                        auth_sql, {**auth_fixed, "token_hash": token_hash}
                    ).fetchone()
                    assert device is not None
                    lock = {
                        "pass_id": pass_id,
                        "client_id": client_id,
                        "household_id": household,
                        "community_id": community,
                        "gate": gate_id,
                        "scanned_at": now,
                        "decided_at": now,
                    }
                    locked = connection.execute(lock_sql, {**lock_fixed, **lock}).fetchone()
                    assert locked is not None
                    seq, prev_hash = locked[-2:]
                    row_hash = hashlib.sha256(f"{prev_hash}{client_id}".encode()).hexdigest()
                    state = json.dumps({"out_since": [], "exits": []}, separators=(",", ":"))
                    row: dict[str, object] = dict.fromkeys(STORED_COLUMNS)
                    row.update(
                        client_id=client_id,
                        community_id=community,
                        gate_id=gate_id,
                        device_id=device[0],
                        household_id=household,
                        pass_id=pass_id,
                        direction="out" if out[household] else "in",
                        scanned_at=now,
                        recorded_at=now,
                        temperature_tenths=365,
                        allowed=True,
                        codes="",
                        flags="",
                        rule_version=1,
                        offline=False,
                        conflict=False,
                        rejected=False,
                        people=1,
                        gate_seq=seq + 1,
                        prev_hash=prev_hash,
                        row_hash=row_hash,
                    )
                    params = {f"crossing_{name}": value for name, value in row.items()}
                    params.update(
                        gate=gate_id,
                        head_seq=seq + 1,
                        head_hash=row_hash,
                        household=household,
                        new_state_json=state,
                        new_out_count=int(out[household]),
                        state_updated_at=now,
                    )
                    connection.execute(insert_sql, {**insert_fixed, **params}).fetchone()
                outcome.latencies_ms.append((time.perf_counter() - began) * 1000)
            clock.finish(outcome)

    return client


def py_spy(master: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording the gunicorn workers (on-CPU samples only) into ``out``."""
    command = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(master),
        "--subprocesses",
        "--nonblocking",
        "--gil",  # only the thread holding the GIL: where Python spends CPU
        "--format",
        "raw",
        "--rate",
        "200",
        "--duration",
        str(max(1, int(seconds))),
        "--output",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_profile(path: Path, top: int = 25) -> None:
    """The frames with the most own samples and the most inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"    profile {path.name}: {total} samples")
    print("    own:")
    for frame, count in own.most_common(top):
        print(f"      {count / total:6.1%}  {frame}")
    print("    inclusive:")
    for frame, count in inclusive.most_common(top * 2):
        print(f"      {count / total:6.1%}  {frame}")


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
    parser.add_argument(
        "--worker-class", default=None, help="gunicorn worker class [deploy/gunicorn.conf.py's]"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement [10]")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients [16]")
    parser.add_argument(
        "--client-processes", type=int, default=4, help="processes the clients run in [4]"
    )
    parser.add_argument("--households", type=int, default=2000, help="[2000]")
    parser.add_argument("--backends", default="sqlite,postgresql", help="[sqlite,postgresql]")
    parser.add_argument(
        "--no-raw", action="store_true", help="skip the raw transaction (API figures only)"
    )
    parser.add_argument("--profile", type=Path, default=None, help="py-spy stacks into DIR")
    parser.add_argument(
        "--servers",
        default="gunicorn",
        help="servers to measure in turn, for an A/B: gunicorn (deployed), granian, uwsgi, and"
        " gunicorn@REV (the code of git revision REV: before/after in one run) [gunicorn]",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CHECKPOINT_TEST_POSTGRES") or DEFAULT_POSTGRES,
        help="admin URL of the PostgreSQL server (a bench database is created there)",
    )
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",")]
    print(machine())
    print(
        f"{args.clients} clients in {args.client_processes} processes, {args.households}"
        f" households, one device per client, {args.seconds:g} s per measurement,"
        f" {args.worker_class or 'deploy/gunicorn.conf.py'} workers x {args.threads} threads"
    )
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    servers = args.servers.split(",")
    api: dict[tuple[str, int], Measured] = {}
    raw: Measured | None = None
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="checkpoint-bench-") as directory:
            instance = Path(directory)
            admin, name = None, ""
            if backend == "sqlite":
                url = f"sqlite:///{instance / 'bench.sqlite3'}"
            else:
                admin_url = normalize_url(args.postgres)
                admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
                name = f"checkpoint_bench_{secrets.token_hex(4)}"
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                url = admin_url.set(database=name).render_as_string(hide_password=False)
            database: dict[str, Callable[[proc_cpu.Proc], bool]] = (
                {
                    "database": proc_cpu.postgres_backend_of(name),
                    SHARED: proc_cpu.postgres_background,
                }
                if name
                else {}
            )
            try:
                print(f"\n[{backend}] setting up ...", flush=True)
                fixture = set_up(url, instance, households=args.households, devices=args.clients)
                for workers, server_name in [(w, s) for w in worker_counts for s in servers]:
                    process, base = start_gunicorn(
                        url, instance, workers, args.threads, args.worker_class, server_name
                    )
                    spy = None
                    try:
                        wait_ready(base, fixture.tokens[0], process)
                        server = proc_cpu.tree(process.pid, proc_cpu.snapshot())
                        if args.profile:
                            stacks = args.profile / f"api-{backend}-{server_name}-{workers}w.txt"
                            spy = py_spy(process.pid, args.seconds, stacks)
                        result = run_clients(
                            api_client(base, fixture, args.clients),
                            clients=args.clients,
                            processes=args.client_processes,
                            seconds=args.seconds,
                            label=f"API {backend}, {server_name}, {workers} worker(s)",
                            groups={"server": proc_cpu.in_pids(server), **database},
                        )
                    finally:
                        stop(process)
                    fixture.directions.update(result.extra)
                    print(result.line(), flush=True)
                    print(result.cpu_line(), flush=True)
                    if spy is not None:
                        spy.wait(timeout=60)
                        print_profile(args.profile / f"api-{backend}-{server_name}-{workers}w.txt")
                    if backend == "postgresql":
                        api[server_name, workers] = result
                if backend == "postgresql" and not args.no_raw:
                    plain = make_url(url).set(drivername="postgresql")
                    conninfo = plain.render_as_string(hide_password=False)
                    runs = []
                    for processes in (args.client_processes, 2 * args.client_processes):
                        runs.append(
                            run_clients(
                                raw_client(conninfo, fixture, args.clients),
                                clients=args.clients,
                                processes=processes,
                                seconds=args.seconds,
                                label=f"raw, same statements, {processes} client procs",
                                groups=database,
                            )
                        )
                        print(runs[-1].line(), flush=True)
                        print(runs[-1].cpu_line(), flush=True)
                    gain = runs[1].rate / runs[0].rate - 1
                    print(
                        f"    twice the raw client processes: {gain:+.0%} raw rate"
                        + (
                            " (the clients are not the limit)"
                            if gain < 0.1
                            else " (MORE CLIENT PROCESSES RAISE IT: the clients limit the raw)"
                        )
                    )
                    raw = max(runs, key=lambda run: run.rate)
            finally:
                if admin is not None:
                    with admin.connect() as connection:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
    if raw is not None and api:
        raw_ms = raw.per_scan_ms()
        print(
            f"\nPostgreSQL, machine CPU per scan: raw transaction {raw_ms:.2f} ms"
            f" (database {raw.database_ms():.2f},"
            f" clients {raw.per_scan_ms('clients'):.2f}); target: the API's <= 2x = "
            f"{2 * raw_ms:.2f} ms"
        )
        for (server_name, workers), result in api.items():
            ratio = result.per_scan_ms() / raw_ms
            verdict = "meets" if ratio <= 2 else "misses"
            print(
                f"API, {server_name}, {workers} worker(s): {result.per_scan_ms():.2f} ms"
                f" = {ratio:.2f}x raw"
                f" ({verdict} the 2x target); server {result.per_scan_ms('server'):.2f},"
                f" database {result.database_ms():.2f},"
                f" clients {result.per_scan_ms('clients'):.2f};"
                f" rate {result.rate:.0f}/s = {result.rate / raw.rate:.0%} of raw's"
                f" {raw.rate:.0f}/s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
