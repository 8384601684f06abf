"""The embedded (SQLite) mode under load: scans per second with 1-4 gunicorn workers, and the
scan latency at a paced rate while the office works (issue #16 item 5), for each server variant
side by side in one run (``--variants``, see ``bench/sqlite_variant_wsgi.py``: ``before`` the
writer turns and the WAL synced after them, ``queue``, ``deployed``).

For each worker count and variant it starts gunicorn with ``deploy/gunicorn.conf.py`` against
one SQLite file (WAL; durable commits) and measures:

1. the **peak**: ``--clients`` scanners (one device each, keep-alive) posting scans as fast as
   answers come, with the machine CPU per scan (server, clients) from ``/proc``;
2. **paced, with the office**: scans sent at ``--rate`` per second in all (each scanner at its
   share, on a fixed schedule: a late answer does not lower the offered rate) while
   ``--office`` office clerks, logged in through the login form, loop without pause over
   the office's heavy reads: the crossing log (the first page and ``--pages`` keyset pages
   after it), the log's CSV export (read to the end), and the household import preview of a
   ``--sheet-rows``-row CSV sheet. It prints the scan p50/p95/p99 (target: p95 <= 100 ms at
   100 scans/s), each office action's median and p95, whether the load generator kept up
   (the rate it sent; how late its own processes woke for a send: a loaded machine starves
   them too), and how long writers waited for their turn and held it.

Each scan's latency is measured from its scheduled send time, so a scanner held up by a slow
answer counts the wait (no coordinated omission). The households are exempt from the quota, so
every scan is allowed and writes a crossing, the household state and the chain head; the log
grows during the run (the export reads it all).

Usage::

    python bench/sqlite_office.py                  # workers 1,2,3,4 x before,deployed; 100/s
    python bench/sqlite_office.py --workers 1,2 --variants before,queue,deployed --seconds 10
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import proc_cpu
from scan_api import (
    DEPLOY_CONFIG,
    ClientOutcome,
    Clock,
    Fixture,
    Measured,
    api_client,
    free_port,
    machine,
    run_clients,
    set_up,
    stop,
    wait_ready,
)

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.db import make_engine, session_factory, transaction
from gate.households.validation import id_check_digit
from passes import format_utc

CLERK, PASSWORD = "clerk", "correct-horse-battery-staple"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_NEXT_PAGE = re.compile(r'href="(/log\?[^"]*after=[^"]+)"')


def add_clerk(url: str, community_id: int) -> None:
    """An office account for the office workload."""
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            create_user(
                session,
                community_id=community_id,
                username=CLERK,
                password=PASSWORD,
                role=Role.OFFICE,
                actor="bench",
            )
    finally:
        engine.dispose()


def import_sheet(rows: int) -> bytes:
    """A valid household sheet (CSV) of ``rows`` new households."""
    lines = ["户编号,楼栋,单元,房号,户主姓名,联系电话,身份证号"]
    for n in range(rows):
        building, room = 100 + n // 100, 101 + n % 100
        first17 = f"35052419{80 + n % 20:02d}0101{n % 1000:03d}"
        lines.append(
            f"{building}-1-{room},{building},1,{room},住户{n},139{n:08d},"
            f"{first17 + id_check_digit(first17)}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def paced_client(base: str, fixture: Fixture, clients: int, rate: float) -> Callable[..., None]:
    """A scanner sending at ``rate / clients`` per second on a fixed schedule; each latency is
    counted from the scheduled time."""
    host, port = base.removeprefix("http://").split(":")
    interval = clients / rate

    def client(index: int, clock: Clock) -> None:
        rng = random.Random(index)
        headers = {
            "Authorization": f"Bearer {fixture.tokens[index % len(fixture.tokens)]}",
            "Content-Type": "application/json",
        }
        mine = fixture.passes[index::clients]
        direction = {card: fixture.directions[card] for card in mine}
        outcome = ClientOutcome([], Counter(), {})
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        oversleep_ms: list[float] = []  # how late this process woke for a send it slept for
        behind = 0  # sends due before the previous answer came (the server's lateness)
        clock.start()
        due = time.perf_counter() + interval * index / clients  # spread the scanners
        while clock.running():
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
                oversleep_ms.append((time.perf_counter() - due) * 1000)
            else:
                behind += 1
            card = rng.choice(mine)
            body = {
                "id": str(uuid.uuid4()),
                "pass": card,
                "direction": direction[card],
                "temperature": rng.randint(358, 369),
                "scanned_at": format_utc(datetime.now(UTC)),
            }
            connection.request("POST", "/api/v1/scans", json.dumps(body), headers)
            answer = connection.getresponse()
            payload = answer.read()
            took_ms = (time.perf_counter() - due) * 1000
            due += interval
            if answer.status == 200 and json.loads(payload)["verdict"]["allowed"]:
                outcome.latencies_ms.append(took_ms)
                direction[card] = "in" if direction[card] == "out" else "out"
            else:
                outcome.errors[answer.status] += 1
        outcome.extra.update(direction)
        outcome.extra[f"{GENERATOR}{index}"] = json.dumps([oversleep_ms, behind])
        clock.finish(outcome)
        connection.close()

    return client


GENERATOR = "generator:"
"""Prefix of the ``extra`` keys where a paced client leaves its own lateness."""
LATE_WAKE_MS = 5.0
"""A send woken later than this after its due time counts against the load generator."""


def generator_line(result: Measured, rate: float) -> tuple[str, bool]:
    """Whether the load generator kept up: the rate it sent, how late its processes woke for
    sends they slept for (their own CPU starvation), and how many sends were due before the
    previous answer came (the server's lateness, counted in the latencies)."""
    oversleep: list[float] = []
    behind = 0
    for key, value in result.extra.items():
        if key.startswith(GENERATOR):
            late, late_sends = json.loads(value)
            oversleep += late
            behind += late_sends
    oversleep.sort()
    sent = (len(oversleep) + behind) / result.seconds
    p95 = oversleep[min(len(oversleep) - 1, int(0.95 * len(oversleep)))] if oversleep else 0.0
    kept_up = p95 <= LATE_WAKE_MS and sent >= 0.95 * rate
    verdict = "kept up" if kept_up else "did NOT keep up: the figures understate the server"
    why = "" if sent >= 0.95 * rate else " (sends waited for slow answers)" if behind else ""
    return (
        f"    load generator {verdict}: asked {rate:g}/s, sent {sent:.1f}/s{why}; its wake-up"
        f" lateness p95 {p95:.1f} ms (limit {LATE_WAKE_MS:g}); {behind} sends due before the"
        " previous answer",
        kept_up,
    )


def turns_line(turns_file: Path, began: float, ended: float) -> str | None:
    """The write turns taken between ``began`` and ``ended`` (``time.time()``): how long each
    waited for its turn and held it (``CHECKPOINT_BENCH_TURNS``; not in ``before``)."""
    if not turns_file.exists():
        return None
    waited, held = [], []
    for line in turns_file.read_text(encoding="utf-8").splitlines():
        for asked, wait_ms, hold_ms in json.loads(line):
            if began <= asked <= ended:
                waited.append(wait_ms)
                held.append(hold_ms)
    if not held:
        return None

    def spread(values: list[float]) -> str:
        values = sorted(values)
        p95, p99 = (values[min(len(values) - 1, int(f * len(values)))] for f in (0.95, 0.99))
        return f"median {statistics.median(values):.1f}, p95 {p95:.1f}, p99 {p99:.1f} ms"

    return (
        f"    write turns (scans and the office's writes): {len(held)}; waited {spread(waited)};"
        f" held {spread(held)}; busy {sum(held) / 1000 / (ended - began):.0%} of the time"
    )


def start_server(
    url: str, instance: Path, workers: int, threads: int, variant: str, turns_file: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn with the deployment's configuration on ``bench/sqlite_variant_wsgi.py``
    (``variant`` applied in each worker), no worker recycling, on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "CHECKPOINT_BENCH_TURNS": str(turns_file),
        "CHECKPOINT_DATABASE_URL": url,
        "CHECKPOINT_ENV": "test",
        "CHECKPOINT_INSTANCE_DIR": str(instance),
        "CHECKPOINT_BENCH_VARIANT": variant,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_LOGLEVEL": "warning",
    }
    command = [sys.executable, "-m", "gunicorn", "--config", str(DEPLOY_CONFIG)]
    command += ["--pythonpath", str(Path(__file__).resolve().parent), "sqlite_variant_wsgi:app"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


class Office(threading.Thread):
    """One clerk looping over log pages, the CSV export and the import preview until
    ``stop`` is set; records each action's seconds."""

    def __init__(self, base: str, sheet: bytes, pages: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.sheet, self.pages, self.stop = base, sheet, pages, stop
        self.timings: dict[str, list[float]] = {"log page": [], "export": [], "import": []}
        self.failures: Counter[str] = Counter()

    def _timed(self, action: str, call: Callable[[], httpx.Response]) -> httpx.Response | None:
        began = time.perf_counter()
        answer = call()
        if answer.status_code != 200:
            self.failures[f"{action} {answer.status_code}"] += 1
            return None
        self.timings[action].append(time.perf_counter() - began)
        return answer

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=120) as office:
            token = _CSRF.search(office.get("/login").text)
            form = {
                "username": CLERK,
                "password": PASSWORD,
                "csrf_token": token[1] if token else "",
            }
            login = office.post("/login", data=form)
            if login.status_code != 302:
                self.failures[f"login {login.status_code}"] += 1
                return
            while not self.stop.is_set():
                url: str | None = "/log"
                for _ in range(self.pages + 1):
                    if url is None or self.stop.is_set():
                        break
                    page = self._timed("log page", functools.partial(office.get, url))
                    found = _NEXT_PAGE.search(page.text) if page else None
                    url = found[1].replace("&amp;", "&") if found else None
                if self.stop.is_set():
                    break
                export = functools.partial(office.get, "/log/export", params={"fmt": "csv"})
                self._timed("export", export)
                if self.stop.is_set():
                    break
                listing = office.get("/households/import")
                csrf = _CSRF.search(listing.text)
                preview = functools.partial(
                    office.post,
                    "/households/import",
                    data={"csrf_token": csrf[1] if csrf else ""},
                    files={"sheet": ("households.csv", self.sheet, "text/csv")},
                )
                self._timed("import", preview)


def _summary(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{label}: none completed"
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"{label}: {len(ms)} done, median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms"


def _percentiles(result: Measured) -> tuple[float, float, float]:
    ms = sorted(result.latencies_ms)
    if not ms:
        return (float("nan"),) * 3

    def pick(fraction: float) -> float:
        return ms[min(len(ms) - 1, int(fraction * len(ms)))]

    return statistics.median(ms), pick(0.95), pick(0.99)


def _directions(extra: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in extra.items() if not k.startswith(GENERATOR)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,3,4", help="gunicorn worker counts [1,2,3,4]")
    parser.add_argument(
        "--variants",
        default="before,deployed",
        help="server variants, each with every worker count (bench/sqlite_variant_wsgi.py):"
        " before (SQLite's busy handler, WAL synced inside COMMIT), queue (writer turns, WAL"
        " synced inside COMMIT), deployed (turns, WAL synced after the turn); a"
        " /switch=SECONDS suffix sets the thread switch interval [before,deployed]",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per worker [4]")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement [10]")
    parser.add_argument("--clients", type=int, default=8, help="scanners [8]")
    parser.add_argument("--client-processes", type=int, default=2, help="[2]")
    parser.add_argument("--rate", type=float, default=100.0, help="paced scans per second [100]")
    parser.add_argument("--office", type=int, default=1, help="office clerks looping [1]")
    parser.add_argument("--pages", type=int, default=3, help="log pages after the first [3]")
    parser.add_argument("--sheet-rows", type=int, default=1000, help="import preview rows [1000]")
    parser.add_argument("--households", type=int, default=2000, help="[2000]")
    args = parser.parse_args(argv)
    print(machine())
    print(
        f"SQLite (WAL); {args.clients} scanners in {args.client_processes}"
        f" processes; {args.seconds:g} s per measurement; gthread x {args.threads} threads;"
        f" paced {args.rate:g} scans/s with {args.office} clerk(s) looping over the log"
        f" (1 + {args.pages} pages), the CSV export and a {args.sheet_rows}-row import preview"
    )
    sheet = import_sheet(args.sheet_rows)
    rows = []
    with tempfile.TemporaryDirectory(prefix="checkpoint-bench-") as directory:
        instance = Path(directory)
        url = f"sqlite:///{instance / 'bench.sqlite3'}"
        fixture = set_up(url, instance, households=args.households, devices=args.clients)
        add_clerk(url, 350322)
        runs = [
            (variant, int(w))
            for w in args.workers.split(",")
            for variant in args.variants.split(",")  # variants side by side per worker count
        ]
        for variant, workers in runs:
            tag = f"{variant}, {workers} w"
            turns_file = instance / f"turns-{len(rows)}.jsonl"
            process, base = start_server(url, instance, workers, args.threads, variant, turns_file)
            try:
                wait_ready(base, fixture.tokens[0], process)
                groups = {
                    "server": proc_cpu.in_pids(proc_cpu.tree(process.pid, proc_cpu.snapshot()))
                }
                peak = run_clients(
                    api_client(base, fixture, args.clients),
                    clients=args.clients,
                    processes=args.client_processes,
                    seconds=args.seconds,
                    label=f"peak, {tag}",
                    groups=groups,
                )
                fixture.directions.update(peak.extra)
                print(peak.line(), flush=True)
                print(peak.cpu_line(), flush=True)
                stop_office = threading.Event()
                clerks = [Office(base, sheet, args.pages, stop_office) for _ in range(args.office)]
                for clerk in clerks:
                    clerk.start()
                time.sleep(1.0)  # the clerks are logged in and busy before the scans start
                paced_began = time.time()
                paced = run_clients(
                    paced_client(base, fixture, args.clients, args.rate),
                    clients=args.clients,
                    processes=args.client_processes,
                    seconds=args.seconds,
                    label=f"{args.rate:g}/s + office, {tag}",
                    groups=groups,
                )
                paced_ended = time.time()
                stop_office.set()
                for clerk in clerks:
                    clerk.join(timeout=180)
                fixture.directions.update(_directions(paced.extra))
            finally:
                stop(process)
            median, p95, p99 = _percentiles(paced)
            verdict = "meets" if p95 <= 100 else "misses"
            generator, kept_up = generator_line(paced, args.rate)
            print(paced.line(), flush=True)
            print(paced.cpu_line() + " (the server's CPU includes the office's requests)")
            print(
                f"    scan latency from the schedule: median {median:.1f} ms, p95 {p95:.1f} ms"
                f" ({verdict} p95 <= 100 ms), p99 {p99:.1f} ms",
                flush=True,
            )
            print(generator, flush=True)
            turns = turns_line(turns_file, paced_began, paced_ended)
            if turns:
                print(turns)
            for action in ("log page", "export", "import"):
                timings = [t for clerk in clerks for t in clerk.timings[action]]
                print(f"    office {_summary(action, timings)}")
            failures = sum((clerk.failures for clerk in clerks), Counter[str]())
            if failures:
                print(f"    office failures: {dict(failures)}")
            rows.append((tag, peak, paced, median, p95, p99, verdict, kept_up))
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    print(
        f"{'variant, workers':<28} {'peak/s':>7} {'CPU ms/scan':>11}  {'paced/s':>7}"
        f" {'p50':>7} {'p95':>7} {'p99':>7} {'load':>5}  generator"
    )
    for tag, peak, paced, median, p95, p99, verdict, kept_up in rows:
        print(
            f"{tag:<28} {peak.rate:7.0f} {peak.per_scan_ms():11.2f}  {paced.rate:7.1f}"
            f" {median:7.1f} {p95:7.1f} {p99:7.1f} {paced.load:5.1f}"
            f"  {'kept up' if kept_up else 'BEHIND'} ({verdict} p95 <= 100 ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
