"""Run every bench under ``bench/`` at one scale and write one Markdown report.

Each bench runs as its own subprocess (with ``--json`` where it has it), one after another so
they do not compete for the CPUs. The report gives, per bench, the exact command, its exit
code and wall time, the figures next to the limits they are held to, and the raw output; at
the top the machine, the date, the commit and the command that made the report. A bench
whose script is missing is listed with a note; a bench that fails is reported, not fatal.

Scales: ``small`` (default, a few minutes: fewer scans, fuzz inputs and passes) and ``full``
(the benches' own defaults, as quoted in the README).

Usage::

    .venv/bin/python bench/run_all.py                       # small -> bench/results/report.md
    .venv/bin/python bench/run_all.py --scale full --out /tmp/report.md
    .venv/bin/python bench/run_all.py --only frame_to_verdict --only scanner_memory
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
Scale = str


@dataclass(frozen=True)
class Bench:
    """A bench script, its arguments per scale, and what its figures are held to."""

    name: str
    limits: str
    args: dict[Scale, list[str]]
    json: bool = False
    probe: Callable[[str, Scale], list[str] | None] | None = None
    """For a bench whose options are not known in advance: its ``--help`` text -> arguments."""


@dataclass
class Outcome:
    """What one bench run produced."""

    bench: Bench
    command: list[str] = field(default_factory=list)
    exit_code: int | None = None
    wall_s: float = 0.0
    stdout: str = ""
    stderr: str = ""
    data: Any = None
    note: str = ""


def _scan_api_args(help_text: str, scale: Scale) -> list[str] | None:
    """Short-duration arguments for ``scan_api.py`` from the options its ``--help`` lists."""
    args: list[str] = []
    seconds = "5" if scale == "small" else "30"
    for option in ("--duration", "--seconds", "--duration-s"):
        if option in help_text:
            args += [option, seconds]
            break
    else:
        for option, small, full in (("--requests", "500", "5000"), ("--count", "500", "5000")):
            if option in help_text:
                args += [option, small if scale == "small" else full]
                break
    if "--json" in help_text:
        args.append("--json")
    return args


BENCHES = [
    Bench(
        "verify_decide",
        "no limit of its own: one decision is a small part of the 50 ms offline frame budget;"
        " the pass must fit QR version 8 at Q and print at about 40 mm",
        {"small": ["--count", "300", "--rounds", "3"], "full": []},
    ),
    Bench(
        "fuzz_decoder",
        "0 exceptions, 0 forgeries accepted, every input rejected or verified within 50 ms",
        {"small": ["--count", "5000"], "full": []},
    ),
    Bench(
        "decoder",
        "gate decode budget 40 ms per frame; decode rate against plain QR libraries",
        {"small": ["--json"], "full": ["--json"]},
        json=True,
    ),
    Bench(
        "frame_to_verdict",
        "frame-to-verdict p99 <= 50 ms offline, <= 100 ms online",
        {"small": ["--scans", "100", "--json"], "full": ["--json"]},
        json=True,
    ),
    Bench(
        "scanner_memory",
        "peak RSS of the scanner process <= 150 MiB",
        {"small": ["--images", "200", "--json"], "full": ["--images", "500", "--json"]},
        json=True,
    ),
    Bench(
        "issuance",
        "none stated for time (pure-Python QR, ~20 ms per pass expected); the card PDF is"
        " checked against render_card_sheets_pdf's own claims (about 1.5 KB per card, peak"
        " about 3x the file)",
        {"small": ["--scale", "small", "--json"], "full": ["--json"]},
        json=True,
    ),
    Bench(
        "audit_scale",
        "office queries p95 <= 1 s each (interactive pages; the bench's yardstick, none stated"
        " in the project); verify_log must find the genuine chain intact; export and verify are"
        " batch jobs, timed only",
        {"small": ["--scale", "small", "--json"], "full": ["--json"]},
        json=True,
    ),
    Bench(
        "scan_api",
        "as the bench states (server-side scan API throughput and latency)",
        {},
        probe=_scan_api_args,
    ),
]


def run_bench(bench: Bench, scale: Scale, timeout_s: float) -> Outcome:
    """Run one bench script; never raises for the bench's own failures."""
    outcome = Outcome(bench)
    script = BENCH_DIR / f"{bench.name}.py"
    if not script.exists():
        outcome.note = f"skipped: {script.relative_to(ROOT)} is missing"
        return outcome
    args = bench.args.get(scale)
    if bench.probe is not None:
        helped = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        )  # fmt: skip
        args = bench.probe(helped.stdout, scale)
    if args is None:
        outcome.note = "skipped: no arguments known for this scale"
        return outcome
    outcome.command = [sys.executable, str(script.relative_to(ROOT)), *args]
    print(f"running {shlex.join(outcome.command)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            outcome.command, capture_output=True, text=True, timeout=timeout_s, check=False,
            cwd=ROOT,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        outcome.wall_s = time.perf_counter() - started
        outcome.note = f"timed out after {timeout_s:g} s"
        outcome.stdout = _text(exc.stdout)
        outcome.stderr = _text(exc.stderr)
        return outcome
    outcome.wall_s = time.perf_counter() - started
    outcome.exit_code = done.returncode
    outcome.stdout, outcome.stderr = done.stdout, done.stderr
    if "--json" in args:
        try:
            outcome.data = json.loads(done.stdout)
        except json.JSONDecodeError:
            outcome.note = "its output was not one JSON document (shown raw)"
    return outcome


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


# --- rendering ----------------------------------------------------------------------------------


def _ms(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else str(value)


def render_frame_to_verdict(data: dict[str, Any]) -> list[str]:
    lines = [
        f"{data['scans']} scans per mode, {data['frame']} frames, {data['households']} households,"
        f" journal on {data['journal_fs']}; load {data['machine']['load_1min']:.2f} before,"
        f" {data['machine'].get('load_1min_after', float('nan')):.2f} after.",
        "",
        "| mode | stage | median ms | p95 ms | p99 ms | max ms | limit | result |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for name, mode in data["modes"].items():
        total = mode["frame_to_verdict"]
        result = "met" if mode["p99_ok"] else "**not met**"
        lines.append(
            f"| {name} | frame-to-verdict | {_ms(total['median'])} | {_ms(total['p95'])} |"
            f" {_ms(total['p99'])} | {_ms(total['max'])} | p99 <= {mode['target_p99_ms']:g} ms"
            f" | {result} |"
        )
        for stage in ("decode", "decide", "journal", "loop_thread_cpu"):
            figures = mode[stage]
            lines.append(
                f"| | {stage.replace('_', ' ')} | {_ms(figures['median'])} | {_ms(figures['p95'])}"
                f" | {_ms(figures['p99'])} | {_ms(figures['max'])} | | |"
            )
    lines.append("")
    for name, mode in data["modes"].items():
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(mode["verdicts"].items()))
        lines.append(
            f"- {name}: {mode['crossings']} crossings, {mode['misses']} frames not decoded,"
            f" {mode['faults']} storage faults, {mode['answered_online']} answered by the server;"
            f" verdicts: {verdicts}"
        )
    return lines


def render_scanner_memory(data: dict[str, Any]) -> list[str]:
    result = "met" if data["ok"] else "**not met**"
    lines = [
        f"`{data['scanner_command']}`",
        "",
        "| run | images | peak RSS MiB (wait4) | VmHWM MiB (polled) | wall s | CPU s | shown |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in data["runs"].items():
        lines.append(
            f"| {name} | {run['images']} | {run['peak_rss_mib']:.1f}"
            f" | {run['polled_vmhwm_mib']:.1f} | {run['wall_s']:.1f} | {run['cpu_s']:.1f}"
            f" | {run['shown']} |"
        )
    lines += [
        "",
        f"Peak RSS {data['peak_rss_mib']:.1f} MiB against the limit of {data['target_mib']:g} MiB:"
        f" {result}; growth {data['growth_kib_per_image']:.1f} KiB per image after start-up.",
    ]
    return lines


def render_decoder(data: dict[str, Any]) -> list[str]:
    lines = [
        f"Photos: `{data.get('photos')}`.",
        "",
        "| decoder | decoded | rate | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in data.get("results", []):
        lines.append(
            f"| {row['decoder']} | {row['found']}/{row['images']} | {row['rate']:.1%} |"
            f" {row['median_ms']:.2f} | {row['p95_ms']:.2f} | {row['max_ms']:.1f} |"
        )
    return lines


def render_generic(data: Any) -> list[str]:
    """Scalars of an unknown JSON document as a two-column table (nested keys dotted)."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list):
            if all(not isinstance(item, dict | list) for item in value):
                rows.append((prefix, ", ".join(map(str, value[:10]))))
            else:
                for index, item in enumerate(value[:20]):
                    walk(f"{prefix}[{index}]", item)
        else:
            rows.append((prefix, f"{value:.3f}" if isinstance(value, float) else str(value)))

    walk("", data)
    return ["| figure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows[:80])]


RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "frame_to_verdict": render_frame_to_verdict,
    "scanner_memory": render_scanner_memory,
    "decoder": render_decoder,
}


def _fence(text: str, limit: int = 6000) -> list[str]:
    body = text if len(text) <= limit else text[:limit] + "\n... (cut)"
    return ["```", body.rstrip("\n"), "```"]


def render_outcome(outcome: Outcome) -> list[str]:
    bench = outcome.bench
    lines = [f"## {bench.name}", "", f"Limits: {bench.limits}.", ""]
    if not outcome.command:
        return [*lines, f"_{outcome.note}_", ""]
    status = "timed out" if outcome.exit_code is None else f"exit {outcome.exit_code}"
    lines += [
        f"Command: `{shlex.join(_relative(outcome.command))}` ({status}, {outcome.wall_s:.1f} s)"
    ]
    if outcome.exit_code not in (0, None):
        lines.append("")
        lines.append("A non-zero exit means a limit was not met or the bench failed; see below.")
    if outcome.note:
        lines += ["", f"_{outcome.note}_"]
    lines.append("")
    if isinstance(outcome.data, dict):
        renderer = RENDERERS.get(bench.name)
        try:
            lines += renderer(outcome.data) if renderer else render_generic(outcome.data)
        except (KeyError, TypeError, ValueError) as exc:
            lines += [f"_could not tabulate ({type(exc).__name__}: {exc}); raw output below_"]
        raw = json.dumps(outcome.data, ensure_ascii=False, indent=1)
        lines += ["", "<details><summary>raw JSON</summary>", "", *_fence(raw), "", "</details>"]
    else:
        lines += _fence(outcome.stdout or "(no output)")
    if outcome.stderr.strip() and (outcome.exit_code != 0 or outcome.data is None):
        lines += ["", "stderr (last lines):", "", *_fence(outcome.stderr[-3000:])]
    return [*lines, ""]


def _relative(command: list[str]) -> list[str]:
    """The command as a reader would type it (``python`` for this interpreter)."""
    return ["python", *command[1:]] if command and command[0] == sys.executable else command


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=30, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip()


def report(outcomes: list[Outcome], scale: Scale, command: str, started: datetime) -> str:
    info = common.machine()
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain") else ""
    mem = info.get("mem_total_mib")
    summary = ["| bench | result | wall s |", "|---|---|---:|"]
    for outcome in outcomes:
        if not outcome.command or outcome.exit_code is None:
            result = outcome.note
        else:
            result = "ok" if outcome.exit_code == 0 else f"exit {outcome.exit_code}"
        summary.append(f"| {outcome.bench.name} | {result} | {outcome.wall_s:.1f} |")
    lines = [
        "# Checkpoint benchmark report",
        "",
        f"- date: {started.isoformat(timespec='seconds')} (UTC)",
        f"- command: `{command}` (scale `{scale}`)",
        f"- commit: `{_git('rev-parse', '--short', 'HEAD') or 'unknown'}`{dirty}",
        f"- machine: {info['cpu_model']}, nproc {info['nproc']}"
        + (f", {mem / 1024:.0f} GiB RAM" if mem else "")
        + f"; Python {info['python']}, {info['platform']};"
        f" load average {info['load_1min']:.2f} at the end of the run",
        "",
        "Timings are wall-clock on this machine; on a shared or busy machine they include waiting"
        " for a CPU (see the load averages), so compare the scan thread's CPU time too.",
        "",
        *summary,
        "",
    ]
    for outcome in outcomes:
        lines += render_outcome(outcome)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "full"), default="small")
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "results" / "report.md", help="Markdown report"
    )
    parser.add_argument(
        "--only", action="append", default=None, help="run only this bench (repeatable)"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per bench")
    args = parser.parse_args(argv)
    names = {bench.name for bench in BENCHES}
    if args.only and not set(args.only) <= names:
        parser.error(f"unknown bench; known: {', '.join(sorted(names))}")

    started = datetime.now(UTC)
    command = shlex.join(["python", *sys.argv])
    timeout = args.timeout or (900.0 if args.scale == "small" else 3600.0)
    outcomes = [
        run_bench(bench, args.scale, timeout)
        for bench in BENCHES
        if not args.only or bench.name in args.only
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(outcomes, args.scale, command, started), encoding="utf-8")
    print(f"report written to {args.out}", file=sys.stderr)
    for outcome in outcomes:
        state = outcome.note or f"exit {outcome.exit_code}, {outcome.wall_s:.1f} s"
        print(f"  {outcome.bench.name:18} {state}", file=sys.stderr)
    failed = [o for o in outcomes if o.command and o.exit_code != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
