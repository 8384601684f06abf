"""Draining a large offline backlog: one scanner's journal of N crossings to the gate server.

A scanner that was offline for most of a day comes back with a long journal. This bench
builds such a journal and drains it with the real uploader over real HTTP, then checks that
every crossing reached the server exactly once.

For each backend (a PostgreSQL database the bench creates and drops; and/or a SQLite file):

1. Set-up (timed, not part of the drain): a migrated database with one community, a signing
   key, H households (default N/4), one pass per household signed once with
   ``gate.issuing.operations.issue_pass``, one gate and one enrolled device. The offline bundle
   is built at ``t0`` (about 22 h ago) with the server's own ``gate.devices.bundle.build_bundle``
   and stored in a fresh journal with ``scanner.bundle.save_bundle``, as a fetch at ``t0``
   would have.
2. Generation (timed separately, not part of the drain): N crossings between ``t0`` and a few
   minutes ago, households interleaved at random, each household alternating out, in, out, in,
   ... Every verdict is the scanner's own offline decision
   (``scanner.deciding.decide_offline``: ``passes.decide`` with the bundle's keys, rules and
   household states merged with this journal's newer states), journaled with the scan loop's
   ``entry_for`` and ``Journal.record`` together with the household state it produced. With
   the default rules (one exit per three calendar days) a second exit the same day is refused
   (``quota``); a few fevers are refused too. The Journal API commits one crossing per call
   (``synchronous=FULL``, as on the device), so the journal lives on tmpfs by default
   (``--journal-dir``).
3. Drain (timed): ``gunicorn gate.wsgi:app`` (``--workers``, gthread) on that database and
   ``scanner.sync.Uploader`` with ``scanner.api_client.ApiClient`` in batches of ``--batch``
   (500) until the journal has nothing unsent. Failed rounds are retried after a short pause.
   The CPU each process group spent over the drain is read from ``/proc`` (``proc_cpu``) and
   printed per row: ``server`` (gunicorn), ``database`` (this database's PostgreSQL backends),
   ``db background`` (the PostgreSQL server's own processes, shared with anything else on
   it) and ``client`` (this process: the journal and the uploader).
4. Verification (exactly once): the server holds exactly N crossings from that device, no
   client id twice, exactly the journal's ids, none rejected, in the journal's order along the
   gate's chain; every journal row is ``sent``; ``gate.verification.log.verify_log`` verifies the
   community's chain end to end. Conflicts (the server re-decides offline crossings at their
   scan time) are counted; genuine scanner verdicts give none.

Usage::

    .venv/bin/python bench/backlog_drain.py                              # 100,000 on PostgreSQL
    .venv/bin/python bench/backlog_drain.py --crossings 20000 --backends sqlite
    .venv/bin/python bench/backlog_drain.py --crossings 2000 --backends postgresql,sqlite --json

PostgreSQL admin URL: ``--postgres`` or ``CHECKPOINT_TEST_POSTGRES`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``). Exit code 1 if a verification
fails. Progress goes to stderr; results to stdout. SIGTERM stops the run cleanly (gunicorn is
stopped and the PostgreSQL database dropped), also when it runs in the background.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import httpx
import proc_cpu
from scan_api import start_gunicorn, stop
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from gate.community.models import Area, Building, Community, Compound, Grid
from gate.crossings.models import Crossing
from gate.db import make_engine, normalize_url, session_factory, transaction
from gate.devices.bundle import build_bundle
from gate.devices.models import Gate
from gate.devices.operations import create_device, enroll
from gate.households.models import Household, Member
from gate.issuing.operations import issue_pass
from gate.migrations import upgrade
from gate.signing.operations import active_signing_key, create_signing_key
from gate.verification.log import verify_log
from passes import Direction, wire
from scanner.api_client import MAX_BATCH, ApiClient, BatchResult, BundleAnswer, PreparedBatch
from scanner.bundle import save_bundle
from scanner.deciding import DecidingConfig, ScanRequest, decide_offline
from scanner.journal import Journal
from scanner.loop import entry_for
from scanner.sync import Uploader

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COMMUNITY_ID = 350_323
OFFLINE_HOURS = 22.0
"""The bundle was fetched this long ago; the scanner has been offline since."""
VOLUNTEERS = ("志愿者甲", "志愿者乙", "志愿者丙")


# --- set-up -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """What the scanner side needs from the set-up."""

    community_id: int
    gate_id: int
    device_id: int
    token: str
    passes: list[str]
    """The current pass text of every household, in household order."""
    bundle: dict[str, Any]
    bundle_etag: str


def set_up(url: str, instance: Path, *, households: int, t0: datetime, now: datetime) -> Site:
    """A migrated database: one community, its households with one pass each (signed once),
    one gate with one enrolled device; and the bundle as the server built it at ``t0``."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            community = Community(
                id=COMMUNITY_ID, name="积压小区", code="backlog", timezone="Asia/Shanghai"
            )
            session.add(community)
            session.flush()
            create_signing_key(
                session,
                community_id=community.id,
                keys_dir=instance / "keys",
                actor="bench",
                now=t0 - timedelta(days=2),
            )
            key = active_signing_key(session, community.id)
            area = Area(community=community, name="片区", code="A")
            grid = Grid(area=area, name="网格", code="G")
            compound = Compound(grid=grid, name="小区", code="P")
            session.add(area)
            session.flush()
            rows: list[Household] = []
            per_building = 500
            building: Building | None = None
            for n in range(households):
                if n % per_building == 0:
                    number = n // per_building + 1
                    building = Building(compound=compound, name=f"{number}号楼", code=str(number))
                    session.add(building)
                assert building is not None
                unit, room = divmod(n % per_building, 100)
                row = Household(
                    id=200_000 + n,
                    community_id=community.id,
                    building=building,
                    code=f"{building.code}-{unit + 1}-{room + 101}",
                    unit=str(unit + 1),
                    room=str(room + 101),
                    members=[Member(name=f"居民{n}", is_head=True)],
                )
                session.add(row)
                rows.append(row)
            session.flush()
            # One signature per household, at issue time.
            issued_at = t0 - timedelta(hours=1)
            texts = [
                issue_pass(session, row, actor="bench", now=issued_at, key=key).text for row in rows
            ]
            gate = Gate(community_id=community.id, name="北门", code="north")
            session.add(gate)
            session.flush()
            new = create_device(session, gate=gate, name="北门扫码机", actor="bench", now=t0)
            gate_id = gate.id
        with transaction(sessions) as session:
            device, token = enroll(session, code=new.enrolment_code, now=now)
            device_id = device.id
        with transaction(sessions, read_only=True) as session:
            bundle, etag = build_bundle(session, COMMUNITY_ID, now=t0)
    finally:
        engine.dispose()
    return Site(COMMUNITY_ID, gate_id, device_id, token, texts, bundle, etag)


# --- the offline journal ------------------------------------------------------------------------


@dataclass
class Generated:
    crossings: int
    households: int
    seconds: float
    first_scan: str
    last_scan: str
    allowed: int
    refused_by_code: dict[str, int]
    notes: dict[str, int]
    degraded: int
    journal_bytes: int

    @property
    def rate(self) -> float:
        return self.crossings / self.seconds if self.seconds else 0.0


def schedule(households: int, crossings: int, rng: random.Random) -> list[int]:
    """Which household crosses at each slot: every household about equally often, interleaved
    at random (each household's own crossings then alternate out, in, out, ...)."""
    base, extra = divmod(crossings, households)
    order = [h for h in range(households) for _ in range(base)]
    order += rng.sample(range(households), extra)
    rng.shuffle(order)
    return order


def temperature(rng: random.Random, fever_rate: float) -> int:
    """A forehead reading in tenths of a degree: normal, or now and then a fever."""
    if rng.random() < fever_rate:
        return rng.randint(374, 386)
    return rng.randint(358, 369)


def generate(
    journal_path: Path,
    site: Site,
    *,
    crossings: int,
    t0: datetime,
    end: datetime,
    seed: int,
    fever_rate: float,
) -> Generated:
    """Fill a new journal at ``journal_path`` with ``crossings`` offline scanner decisions."""
    rng = random.Random(seed)
    config = DecidingConfig()
    order = schedule(len(site.passes), crossings, rng)
    start = t0 + timedelta(minutes=10)
    step = (end - start) / crossings
    seen = [0] * len(site.passes)
    refused: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    allowed = degraded = 0
    began = time.perf_counter()
    with Journal(journal_path) as journal:
        bundle = save_bundle(journal, site.bundle, etag=site.bundle_etag, fetched_at=t0)
        for slot, household in enumerate(order):
            direction = Direction.OUT if seen[household] % 2 == 0 else Direction.IN
            seen[household] += 1
            scanned_at = (start + step * slot).replace(microsecond=0) + timedelta(
                milliseconds=slot % 1000
            )
            request = ScanRequest(
                pass_text=site.passes[household],
                direction=direction,
                temperature=temperature(rng, fever_rate),
                operator=VOLUNTEERS[slot % len(VOLUNTEERS)],
                crossing_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            )
            decided = time.perf_counter()
            decision = decide_offline(
                request,
                bundle,
                local=journal,
                scanned_at=scanned_at,
                max_bundle_age=config.max_bundle_age,
            )
            latency_ms = int((time.perf_counter() - decided) * 1000)
            journal.record(entry_for(request, decision, latency_ms), decision.state_after)
            if decision.allowed:
                allowed += 1
            else:
                refused[decision.code or "?"] += 1
            notes.update(decision.notes)
            degraded += decision.degraded
        seconds = time.perf_counter() - began
        first, last = journal.rows(limit=1), journal.rows(after_seq=crossings - 1)
    return Generated(
        crossings=crossings,
        households=len(site.passes),
        seconds=seconds,
        first_scan=first[0].entry.scanned_at.isoformat() if first else "",
        last_scan=last[0].entry.scanned_at.isoformat() if last else "",
        allowed=allowed,
        refused_by_code=dict(refused.most_common()),
        notes=dict(notes.most_common()),
        degraded=degraded,
        journal_bytes=sum(
            p.stat().st_size for p in journal_path.parent.glob(journal_path.name + "*")
        ),
    )


# --- the drain ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counted(PreparedBatch):
    count: int = 0


class TimedClient:
    """The real API client, timing each batch and reporting progress on stderr."""

    def __init__(self, inner: ApiClient, total: int, label: str, every_s: float = 10.0) -> None:
        self._inner = inner
        self._total = total
        self._label = label
        self._every_s = every_s
        self.batch_ms: list[float] = []
        self.between_ms = 0.0
        """Time with no batch at the server, between an answer and the next request."""
        self._answered: float | None = None
        self.rows = 0
        self.started = time.perf_counter()
        self._last_report = self.started

    def upload_batch(self, crossings: Sequence[wire.Crossing]) -> list[BatchResult]:
        return self.send_batch(self.prepare_batch(crossings))

    def prepare_batch(self, crossings: Sequence[wire.Crossing]) -> PreparedBatch:
        prepared = self._inner.prepare_batch(crossings)
        return _Counted(prepared.body, prepared.headers, len(crossings))

    def send_batch(self, prepared: PreparedBatch) -> list[BatchResult]:
        """The request alone (the uploader prepares the next batch meanwhile)."""
        began = time.perf_counter()
        if self._answered is not None:
            self.between_ms += (began - self._answered) * 1000
        results = self._inner.send_batch(prepared)
        finished = self._answered = time.perf_counter()
        self.batch_ms.append((finished - began) * 1000)
        self.rows += prepared.count if isinstance(prepared, _Counted) else len(results)
        if finished - self._last_report >= self._every_s:
            self._last_report = finished
            elapsed = finished - self.started
            print(
                f"  [{self._label}] {self.rows:,}/{self._total:,} uploaded in {elapsed:.0f} s"
                f" ({self.rows / elapsed:.0f} rows/s)",
                file=sys.stderr,
                flush=True,
            )
        return results

    def fetch_bundle(self, etag: str | None = None) -> BundleAnswer:
        return self._inner.fetch_bundle(etag)


@dataclass
class Drained:
    seconds: float
    rows_per_s: float
    rounds: int
    batches: int
    rows_uploaded: int
    acknowledged_stored: int
    acknowledged_duplicate: int
    dead: int
    failed_rounds: list[str]
    batch_ms: dict[str, float]
    between_batches_s: float
    """Time the server had no batch of this drain (the client's turn)."""
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds per group over the drain (``server``: gunicorn; ``client``: this
    process, the uploader; ``database``: the bench database's PostgreSQL backends;
    ``db background``: the PostgreSQL server's own processes, shared with others)."""


def drain(
    journal_path: Path,
    base: str,
    token: str,
    *,
    total: int,
    batch: int,
    label: str,
    groups: Mapping[str, Any] | None = None,
) -> Drained:
    """Upload until nothing is unsent (a failed round is retried after a pause); measure the
    CPU of ``groups`` (``proc_cpu`` members by name) and of this process meanwhile."""
    totals: Counter[str] = Counter()
    failures: list[str] = []
    rounds = 0
    with Journal(journal_path) as journal, ApiClient(base, token, timeout_s=120.0) as client:
        timed = TimedClient(client, total, label)
        uploader = Uploader(timed, journal, batch_size=batch)
        before, client_before = proc_cpu.snapshot(), proc_cpu.self_cpu_s()
        began = time.perf_counter()
        timed.started = began
        while journal.counts()["unsent"]:
            rounds += 1
            if rounds > 100:
                failures.append("gave up after 100 rounds")
                break
            report = uploader.upload_pending()
            totals.update(sent=report.sent, duplicates=report.duplicates, dead=report.dead)
            if not report.ok:
                failures.append(str(report.error))
                time.sleep(1.0)
        seconds = time.perf_counter() - began
        after, client_after = proc_cpu.snapshot(), proc_cpu.self_cpu_s()
    cpu = {name: proc_cpu.spent(before, after, member) for name, member in (groups or {}).items()}
    cpu["client"] = client_after - client_before
    return Drained(
        seconds=seconds,
        rows_per_s=total / seconds if seconds else 0.0,
        rounds=rounds,
        batches=len(timed.batch_ms),
        rows_uploaded=timed.rows,
        acknowledged_stored=totals["sent"],
        acknowledged_duplicate=totals["duplicates"],
        dead=totals["dead"],
        failed_rounds=failures,
        batch_ms={k: round(v, 1) for k, v in common.summary_ms(timed.batch_ms).items()},
        between_batches_s=round(timed.between_ms / 1000, 2),
        cpu_s={name: round(value, 2) for name, value in cpu.items()},
    )


def wait_ready(base: str, token: str, process: Any, *, within_s: float = 600.0) -> None:
    """Until the server answers the device's bundle: with 25,000 households (100,000
    crossings) building it takes seconds, longer than ``scan_api.wait_ready``'s request
    timeout on a busy machine."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            answer = httpx.get(
                f"{base}/api/v1/bundle", headers={"Authorization": f"Bearer {token}"}, timeout=120
            )
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {within_s:.0f} s")


# --- verification -------------------------------------------------------------------------------


@dataclass
class Verified:
    server_rows_for_device: int
    distinct_client_ids: int
    duplicate_client_ids: int
    missing_from_server: int
    unknown_on_server: int
    rejected: int
    conflicts: int
    server_allowed: int
    gate_order_matches_journal: bool
    journal_counts: dict[str, int]
    chain_ok: bool
    chain_rows_checked: int
    chain_problems: list[dict[str, Any]]
    seconds: float
    ok: bool = field(default=False)


def verify(url: str, journal_path: Path, site: Site, *, crossings: int) -> Verified:
    """Exactly once, from both ends (see module docstring)."""
    began = time.perf_counter()
    with Journal(journal_path) as journal:
        counts: dict[str, int] = {str(k): n for k, n in journal.counts().items()}
        journal_ids = [row.entry.id for row in journal.rows()]
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine), read_only=True) as session:
            mine = Crossing.device_id == site.device_id
            server_ids = list(
                session.scalars(select(Crossing.client_id).where(mine).order_by(Crossing.gate_seq))
            )
            duplicates = session.scalar(
                select(func.count()).select_from(
                    select(Crossing.client_id)
                    .group_by(Crossing.client_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            rejected = session.scalar(select(func.count()).where(mine, Crossing.rejected))
            conflicts = session.scalar(select(func.count()).where(mine, Crossing.conflict))
            allowed = session.scalar(select(func.count()).where(mine, Crossing.allowed))
            audit = verify_log(session, site.community_id)
    finally:
        engine.dispose()
    known, stored = set(journal_ids), set(server_ids)
    result = Verified(
        server_rows_for_device=len(server_ids),
        distinct_client_ids=len(stored),
        duplicate_client_ids=int(duplicates or 0),
        missing_from_server=len(known - stored),
        unknown_on_server=len(stored - known),
        rejected=int(rejected or 0),
        conflicts=int(conflicts or 0),
        server_allowed=int(allowed or 0),
        gate_order_matches_journal=server_ids == journal_ids,
        journal_counts=counts,
        chain_ok=audit.ok,
        chain_rows_checked=audit.rows_checked,
        chain_problems=[g.to_dict() for g in audit.broken],
        seconds=time.perf_counter() - began,
    )
    result.ok = (
        result.server_rows_for_device == crossings
        and result.distinct_client_ids == crossings
        and result.duplicate_client_ids == 0
        and result.missing_from_server == 0
        and result.unknown_on_server == 0
        and result.rejected == 0
        and result.gate_order_matches_journal
        and counts == {"unsent": 0, "sent": crossings, "dead": 0}
        and result.chain_ok
        and result.chain_rows_checked == crossings
    )
    return result


# --- one backend --------------------------------------------------------------------------------


def database_name(url: str) -> str | None:
    """The PostgreSQL database of ``url`` (None for SQLite)."""
    return None if url.startswith("sqlite") else normalize_url(url).database


@contextmanager
def database(backend: str, instance: Path, admin_url: str) -> Iterator[str]:
    """A SQLite file in ``instance``, or a new PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{instance / 'gate.sqlite3'}"
        return
    if backend != "postgresql":
        raise SystemExit(f"unknown backend {backend!r} (postgresql or sqlite)")
    url = normalize_url(admin_url)
    admin: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"checkpoint_backlog_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def journal_dir(where: str | None) -> Iterator[Path]:
    """A scratch directory for the journal: tmpfs (/dev/shm) unless told otherwise."""
    base = where
    if base is None:
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="checkpoint-backlog-", dir=base) as name:
        yield Path(name)


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    label = backend
    households = args.households or max(args.crossings // 4, 1)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(hours=OFFLINE_HOURS)
    end = now - timedelta(minutes=5)
    with (
        tempfile.TemporaryDirectory(prefix="checkpoint-backlog-") as directory,
        journal_dir(args.journal_dir) as scratch,
        database(backend, Path(directory), args.postgres) as url,
    ):
        instance = Path(directory)
        journal_path = scratch / "journal.db"
        progress(f"[{label}] set-up: {households:,} households, passes, device ...")
        began = time.perf_counter()
        site = set_up(url, instance, households=households, t0=t0, now=now)
        setup_s = time.perf_counter() - began
        progress(f"[{label}] set-up took {setup_s:.1f} s; generating {args.crossings:,} ...")
        generated = generate(
            journal_path,
            site,
            crossings=args.crossings,
            t0=t0,
            end=end,
            seed=args.seed,
            fever_rate=args.fever_rate,
        )
        progress(
            f"[{label}] generated in {generated.seconds:.1f} s ({generated.rate:.0f}/s);"
            f" starting gunicorn ({args.workers} workers) and draining ..."
        )
        process, base = start_gunicorn(url, instance, args.workers, args.threads, None)
        try:
            wait_ready(base, site.token, process)
            server = proc_cpu.tree(process.pid, proc_cpu.snapshot())
            groups: dict[str, Any] = {"server": proc_cpu.in_pids(server)}
            name = database_name(url)
            if name:
                groups["database"] = proc_cpu.postgres_backend_of(name)
                groups["db background"] = proc_cpu.postgres_background
            drained = drain(
                journal_path,
                base,
                site.token,
                total=args.crossings,
                batch=args.batch,
                label=label,
                groups=groups,
            )
        finally:
            stop(process)
        progress(f"[{label}] drained in {drained.seconds:.1f} s; verifying ...")
        verified = verify(url, journal_path, site, crossings=args.crossings)
        return {
            "backend": backend,
            "crossings": args.crossings,
            "households": households,
            "workers": args.workers,
            "threads": args.threads,
            "batch": args.batch,
            "journal_fs": common.fs_type(scratch),
            "setup_s": round(setup_s, 2),
            "generate": asdict(generated) | {"rate": round(generated.rate, 1)},
            "drain": asdict(drained),
            "verify": asdict(verified),
        }


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def text_report(result: dict[str, Any]) -> str:
    g, d, v = result["generate"], result["drain"], result["verify"]
    refused = ", ".join(f"{k} {n:,}" for k, n in g["refused_by_code"].items()) or "none"
    verdict = "PASS" if v["ok"] else "FAIL"
    lines = [
        f"[{result['backend']}] {result['crossings']:,} offline crossings,"
        f" {result['households']:,} households; gunicorn {result['workers']} workers"
        f" x {result['threads']} threads; batches of {result['batch']}",
        f"  set-up          {result['setup_s']:8.1f} s",
        f"  generate        {g['seconds']:8.1f} s   {g['rate']:8.0f} crossings/s"
        f"   (journal on {result['journal_fs']}, {g['journal_bytes'] / 2**20:.0f} MiB;"
        f" allowed {g['allowed']:,}; refused: {refused}; degraded {g['degraded']})",
        f"  drain           {d['seconds']:8.1f} s   {d['rows_per_s']:8.0f} rows/s"
        f"   ({d['batches']} batches, {d['rounds']} round(s), batch median"
        f" {d['batch_ms']['median']:.0f} ms, p95 {d['batch_ms']['p95']:.0f} ms,"
        f" max {d['batch_ms']['max']:.0f} ms; between batches {d['between_batches_s']:.1f} s;"
        f" failed rounds {len(d['failed_rounds'])})",
        f"  acknowledged    stored {d['acknowledged_stored']:,}, duplicate"
        f" {d['acknowledged_duplicate']:,}, dead {d['dead']:,}",
        f"  exactly once    {verdict}: server rows for device {v['server_rows_for_device']:,},"
        f" distinct ids {v['distinct_client_ids']:,}, duplicates {v['duplicate_client_ids']},"
        f" missing {v['missing_from_server']}, unknown {v['unknown_on_server']},"
        f" rejected {v['rejected']}, conflicts {v['conflicts']},"
        f" gate order = journal order {v['gate_order_matches_journal']}",
        f"                  journal {v['journal_counts']};"
        f" chain {'verifies' if v['chain_ok'] else 'BROKEN'}"
        f" ({v['chain_rows_checked']:,} rows, verify took {v['seconds']:.1f} s)",
    ]
    if d["cpu_s"]:
        per_row = {k: v * 1000 / max(result["crossings"], 1) for k, v in d["cpu_s"].items()}
        lines.append(
            "  CPU per row     "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in per_row.items())
            + f" (seconds: {d['cpu_s']})"
        )
    if d["failed_rounds"]:
        lines.append(f"  failed rounds: {d['failed_rounds'][:5]}")
    if v["chain_problems"]:
        lines.append(f"  chain problems: {v['chain_problems']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--crossings", type=int, default=100_000, help="journal size [100000]")
    parser.add_argument("--households", type=int, default=0, help="[crossings / 4]")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers [2]")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker [4]")
    parser.add_argument("--batch", type=int, default=MAX_BATCH, help=f"[{MAX_BATCH}]")
    parser.add_argument("--backends", default="postgresql", help="postgresql,sqlite [postgresql]")
    parser.add_argument("--seed", type=int, default=1, help="[1]")
    parser.add_argument("--fever-rate", type=float, default=0.002, help="[0.002]")
    parser.add_argument("--journal-dir", help="where the journal lives [/dev/shm if writable]")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CHECKPOINT_TEST_POSTGRES") or DEFAULT_POSTGRES,
        help="admin URL of the PostgreSQL server (a bench database is created there)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    if args.crossings < 1 or not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--crossings must be >= 1 and --batch 1..{MAX_BATCH}")
    # A background run ignores SIGINT: let SIGTERM unwind, so gunicorn stops and the DB is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = common.machine()
    command = shlex.join(
        ["python", "bench/backlog_drain.py", *(sys.argv[1:] if argv is None else argv)]
    )
    if not args.json:
        print(common.machine_line(info))
        print(f"command: {command}", flush=True)
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        result = run_backend(backend, args)
        results.append(result)
        if not args.json:
            print(text_report(result), flush=True)
    info["load_1min_after"] = os.getloadavg()[0]
    ok = all(r["verify"]["ok"] for r in results)
    if args.json:
        print(json.dumps({"machine": info, "command": command, "ok": ok, "results": results}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
