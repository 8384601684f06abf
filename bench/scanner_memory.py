"""Peak resident memory of a real scanner process scanning a folder of gate-camera frames.

Sets up a scanner data directory the way a gate does: a seeded compound
(``gate.demo.build_demo``, plus extra households if needed) served by ``checkpoint serve`` on
loopback, ``checkpoint-scanner enroll`` with the one-time code (stores the device token and
the first bundle), then the server is stopped. It writes one 640x480 JPEG frame per household
(the printed pass tilted, in perspective, noisy; see ``common.gate_jpeg``) and runs::

    checkpoint-scanner run --images DIR --headless --thermometer fixed:36.5 --direction out
        --offline --data-dir DATA --hold 0

as a child process. Its peak RSS is ``ru_maxrss`` from ``wait4`` on that child alone (the
kernel's high-water mark), cross-checked by polling ``VmHWM`` in ``/proc/<pid>/status``. The
child is started by a small helper process (this script in its ``_wait4`` mode, standard
library only): Linux carries ``ru_maxrss`` across ``exec``, so a scanner forked straight from
this bench (numpy, OpenCV and the gate loaded for the set-up) would report the bench's size.
A short run over the first ``--short`` images (on a copy of the same data directory) shows the
start-up footprint, so the growth per crossing can be read off. Target: 150 MiB.

Usage::

    .venv/bin/python bench/scanner_memory.py                 # 200 images
    .venv/bin/python bench/scanner_memory.py --images 50 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET_MIB = 150.0
SCANNER = str(Path(sys.executable).parent / "checkpoint-scanner")
WAIT4 = "_wait4"


def _status_kib(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of ``pid`` in KiB (empty once it is gone)."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                key = line.split(":", 1)[0]
                if key in ("VmHWM", "VmRSS"):
                    found[key] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return found


def run_measured(args: list[str], out: Path, timeout_s: float) -> dict[str, Any]:
    """Run ``args`` (stdout to ``out``); its peak RSS (wait4, polled VmHWM), wall and CPU time,
    exit code. Call it in a slim process (see the module docstring)."""
    started = time.perf_counter()
    with out.open("wb") as stdout, out.with_suffix(".err").open("wb") as stderr:
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr)
    polled_hwm = 0
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        polled_hwm = max(polled_hwm, _status_kib(process.pid).get("VmHWM", 0))
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return {
        "exit_code": process.returncode,
        "wall_s": time.perf_counter() - started,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "polled_vmhwm_mib": polled_hwm / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def run_via_helper(
    args: list[str], env: dict[str, str], out: Path, timeout_s: float
) -> dict[str, Any]:
    """:func:`run_measured` in a fresh, slim interpreter (this script's ``_wait4`` mode)."""
    helper = subprocess.run(
        [sys.executable, __file__, WAIT4, str(out), str(timeout_s), *args],
        env=env, capture_output=True, text=True, timeout=timeout_s + 60, check=False,
    )  # fmt: skip
    if helper.returncode != 0:
        raise RuntimeError(f"measuring helper failed: {helper.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(helper.stdout)
    return figures


def verdicts(out: Path) -> Counter[str]:
    """Kinds of the JSON verdict lines the headless display printed."""
    kinds: Counter[str] = Counter()
    for line in out.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                kinds[str(json.loads(line).get("kind"))] += 1
            except json.JSONDecodeError:
                kinds["unparsable"] += 1
    return kinds


def scanner_run(images: Path, data: Path, program: str = SCANNER) -> list[str]:
    """The measured command line."""
    return [
        program,
        "run",
        "--images",
        str(images),
        "--headless",
        "--thermometer",
        "fixed:36.5",
        "--direction",
        "out",
        "--offline",
        "--data-dir",
        str(data),
        "--hold",
        "0",
    ]


def measure(count: int, short: int, workdir: Path, log: list[str]) -> dict[str, Any]:
    """Seed, enrol, stop the server, then run the scanner over ``short`` and ``count`` frames."""
    import common  # not at the top: the _wait4 helper must stay small

    started = time.perf_counter()
    compound = common.build_compound(workdir / "gate", free_households=count, now=datetime.now(UTC))
    log.append(f"seeded {compound.households} households in {time.perf_counter() - started:.1f} s")
    frames = workdir / "frames"
    paths = common.write_frames(frames, compound.texts[:count])
    short_dir = workdir / "frames-short"
    short_dir.mkdir()
    for path in paths[:short]:
        shutil.copy(path, short_dir / path.name)
    data = workdir / "scanner"
    env = {**compound.env, "CHECKPOINT_SCANNER_DATA": str(data)}
    with common.GateServer(compound.env, workdir / "server.log") as server:
        enrolled = subprocess.run(
            [SCANNER, "enroll", "--server", server.url, "--code", compound.enrolment_code,
             "--name", "bench-memory", "--data-dir", str(data)],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    if enrolled.returncode != 0:
        raise RuntimeError(f"enrolment failed: {enrolled.stdout}{enrolled.stderr}")
    log.append(" / ".join(enrolled.stdout.split("\n")).strip(" /"))
    data_short = workdir / "scanner-short"
    shutil.copytree(data, data_short)
    runs = {}
    for name, images, directory, n in (
        ("short", short_dir, data_short, short),
        ("full", frames, data, count),
    ):
        out = workdir / f"{name}.jsonl"
        figures = run_via_helper(scanner_run(images, directory), env, out, timeout_s=600)
        kinds = verdicts(out)
        figures.update(images=n, verdicts=dict(kinds), shown=sum(kinds.values()))
        if figures["exit_code"] != 0:
            figures["stderr"] = out.with_suffix(".err").read_text(errors="replace")[-2000:]
        runs[name] = figures
    full = runs["full"]
    growth = (full["peak_rss_mib"] - runs["short"]["peak_rss_mib"]) / max(count - short, 1)
    return {
        "households": compound.households,
        "frame_bytes_mean": sum(p.stat().st_size for p in paths) / len(paths),
        "runs": runs,
        "growth_kib_per_image": growth * 1024,
        "peak_rss_mib": full["peak_rss_mib"],
        "target_mib": TARGET_MIB,
        "ok": full["exit_code"] == 0
        and full["shown"] == count
        and full["peak_rss_mib"] <= TARGET_MIB,
    }


def print_text(result: dict[str, Any]) -> None:
    import common

    print(f"machine: {common.machine_line(result['machine'])}")
    print(f"command: {result['scanner_command']}")
    for name, run in result["runs"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(run["verdicts"].items()))
        print(
            f"{name:5} {run['images']:4d} images: peak RSS {run['peak_rss_mib']:6.1f} MiB"
            f" (polled VmHWM {run['polled_vmhwm_mib']:.1f}), wall {run['wall_s']:.1f} s,"
            f" CPU {run['cpu_s']:.1f} s, exit {run['exit_code']}; verdicts shown"
            f" {run['shown']} ({kinds})"
        )
        if run.get("stderr"):
            print(run["stderr"])
    verdict = "met" if result["ok"] else "NOT MET"
    print(
        f"peak RSS {result['peak_rss_mib']:.1f} MiB vs target <= {result['target_mib']:g} MiB:"
        f" {verdict}; growth {result['growth_kib_per_image']:.1f} KiB per image"
    )
    for line in result["log"]:
        print(f"note: {line}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [WAIT4]:  # helper mode: _wait4 OUT TIMEOUT_S COMMAND...
        print(json.dumps(run_measured(argv[3:], Path(argv[1]), float(argv[2]))))
        return 0
    import common

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="frames, one household each (200)")
    parser.add_argument("--short", type=int, default=10, help="frames in the start-up run (10)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary files")
    args = parser.parse_args(argv)
    if args.images < 2 or not 1 <= args.short < args.images:
        parser.error("need --images >= 2 and 1 <= --short < --images")

    started = time.perf_counter()
    info = common.machine()
    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-mem-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        measured = measure(args.images, args.short, workdir, log)
    result = {
        "bench": "scanner_memory",
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "scanner_command": shlex.join(
            scanner_run(Path("FRAMES"), Path("DATA"), program="checkpoint-scanner")
        ),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**info, "load_1min_after": os.getloadavg()[0]},
        **measured,
        "wall_s": time.perf_counter() - started,
        "log": log,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_text(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
