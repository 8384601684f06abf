"""Issuing at district scale: sign and render N pass PNGs, and print a K-card PDF of sheets.

Targets (issue #16 item 4): 50,000 passes signed and rendered in <= 60 s, and a 10,000-card
PDF in <= 60 s, on the 2-core development machine, with peak memory printed. Each measurement
runs in child processes of its own, so that peak RSS (``ru_maxrss`` from ``wait4``: the
child's VmHWM) and CPU time are the child's, not this parent's:

- ``png``: ``--passes`` passes (50,000; ``--scale small``: 2,000), each signed with
  ``passes.SigningKey.sign`` (fresh Ed25519 key, random pass id, 30-day validity) and rendered
  with ``passes.render_png`` (the default 10 px per module), once per entry of ``--workers``
  (default ``1,2``): with 2 workers, two processes each do half the passes at the same time.
  Wall time, passes per second, CPU ms per pass (all processes), per-pass median / p95 / max
  of sign and of render, PNG bytes, and peak RSS per process and summed over the processes
  (with each one's RSS after start-up and after 10 % of its passes, to show it stays flat).
- ``pdf``: ``--cards`` cards (10,000; small: 500) through
  ``gate.issuing.printing.render_card_sheets_pdf`` into a temporary file (deleted after).
  The cards are made lazily by a generator that signs each pass as it is pulled, as
  ``gate.issuing.cards.CardBuilder`` does (it re-signs every pass): the time therefore
  includes signing (timed separately, and small) and each card's QR symbol. Wall time, CPU,
  pages, file size, peak RSS.
- ``--before REV`` (e.g. the commit before the fast encoder, 76d1794): the same bench from
  that revision (``git archive`` of passes/, gate/ and bench/ into a temporary directory, run
  with it first on ``PYTHONPATH``) on ``--before-passes`` / ``--before-cards`` (2,000 / 1,000:
  the old code takes ~16 ms a pass), in the same run, so before and after share the machine's
  load; its CPU per pass and per card are printed beside today's and scaled to the full counts.

The machine is shared: wall times include waiting for a CPU, so the CPU seconds of each
measured loop (``time.process_time`` in the child; start-up shown apart) are printed beside
them, with the load average before and after, and the table adds "CPU s": the CPU time
scaled to the full count and divided by the processes, what the wall time would be on an
otherwise idle machine with that many free cores. ``render_card_sheets_pdf``'s docstring
claims a peak of about 3x the output size and a 17 MB file for 10,000 cards (about 1.7 KB a
card); those claims are checked (scaled to the card count, with 50 % slack for "about") and
reported next to the figures.

Usage::

    .venv/bin/python bench/issuance.py                     # 50,000 PNGs (1 and 2 workers)
                                                           # + 10,000-card PDF
    .venv/bin/python bench/issuance.py --before 76d1794    # the same, with the old code beside
    .venv/bin/python bench/issuance.py --scale small       # 2,000 PNGs + 500-card PDF
    .venv/bin/python bench/issuance.py --passes 5000 --cards 1000 --workers 2 --json
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

SCALES: dict[str, tuple[int, int]] = {"small": (2_000, 500), "full": (50_000, 10_000)}
STATED_PDF_BYTES_PER_CARD = 17_000_000 / 10_000
"""``render_card_sheets_pdf``'s docstring: a 17 MB file for 10,000 cards."""
STATED_PDF_PEAK_FACTOR = 3.0
"""Same docstring: peak memory roughly 3x the output size."""
TARGET_PASSES, TARGET_CARDS, TARGET_S = 50_000, 10_000, 60.0
"""Issue #16 item 4: 50,000 passes and a 10,000-card PDF, each in at most 60 s."""
COMMUNITY_ID = 350322
KEY_ID = 1


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` field (VmRSS, VmHWM) in KiB; 0 where there is no /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pass_fields(index: int, now: datetime) -> Any:
    from passes import Pass, new_pass_id

    issued = now.replace(microsecond=0)
    return Pass(
        key_id=KEY_ID,
        pass_id=new_pass_id(),
        household_id=100_000 + index,
        community_id=COMMUNITY_ID,
        generation=1,
        issued_at=issued,
        valid_until=issued + timedelta(days=30),
    )


def _ms_summary(samples_ns: list[int]) -> dict[str, float]:
    return common.summary_ms([value / 1e6 for value in samples_ns])


# --- the child phases ---------------------------------------------------------------------------


def phase_png(count: int, module_px: int, first: int = 0) -> dict[str, Any]:
    """Sign and render ``count`` passes (households from ``first``); timings, RSS checkpoints."""
    from passes import SigningKey, render_png

    key = SigningKey.generate(KEY_ID)
    now = datetime.now(UTC)
    render_png(key.sign(_pass_fields(0, now)), module_px=module_px)  # warm imports and caches
    rss_start = _status_kib("VmRSS")
    sign_ns: list[int] = []
    render_ns: list[int] = []
    png_bytes = 0
    text_chars = 0
    rss_tenth = 0
    clock = time.perf_counter_ns
    cpu_started = time.process_time()
    started = clock()
    for index in range(count):
        t0 = clock()
        text = key.sign(_pass_fields(first + index, now))
        t1 = clock()
        png = render_png(text, module_px=module_px)
        t2 = clock()
        sign_ns.append(t1 - t0)
        render_ns.append(t2 - t1)
        png_bytes += len(png)
        text_chars += len(text)
        if index + 1 == max(count // 10, 1):
            rss_tenth = _status_kib("VmRSS")
    wall_s = (clock() - started) / 1e9
    loop_cpu_s = time.process_time() - cpu_started
    per_pass = [a + b for a, b in zip(sign_ns, render_ns, strict=True)]
    return {
        "passes": count,
        "module_px": module_px,
        "wall_s": wall_s,
        "passes_per_s": count / wall_s if wall_s else 0.0,
        "loop_cpu_s": loop_cpu_s,
        "per_pass_ms": _ms_summary(per_pass),
        "sign_ms": _ms_summary(sign_ns),
        "render_ms": _ms_summary(render_ns),
        "png_bytes_total": png_bytes,
        "png_bytes_mean": png_bytes / count if count else 0,
        "text_chars_mean": text_chars / count if count else 0,
        "rss_start_mib": rss_start / 1024,
        "rss_after_10pct_mib": rss_tenth / 1024,
        "rss_end_mib": _status_kib("VmRSS") / 1024,
        "vmhwm_mib": _status_kib("VmHWM") / 1024,
    }


def phase_pdf(count: int) -> dict[str, Any]:
    """``count`` cards through ``render_card_sheets_pdf`` into a temporary file."""
    from gate.fonts import find_cjk_font
    from gate.issuing.operations import manual_code
    from gate.issuing.printing import Card, render_card_sheets_pdf
    from passes import SigningKey

    key = SigningKey.generate(KEY_ID)
    now = datetime.now(UTC)
    first_day = now.date()
    sign_ns = [0]

    def cards() -> Iterator[Card]:
        for index in range(count):
            t0 = time.perf_counter_ns()
            fields = _pass_fields(index, now)
            text = key.sign(fields)
            building, unit, room = 1 + index // 400, 1 + index // 100 % 4, 101 + index % 100
            sign_ns[0] += time.perf_counter_ns() - t0
            yield Card(
                pass_text=text,
                household_code=f"{building}-{unit}-{room}",
                address_line=f"{building}号楼 {unit}单元 {room}室",
                community_name="基准小区",
                valid_from=first_day,
                valid_until=first_day + timedelta(days=29),
                rule_line="每户每3天可外出1次",
                manual_code=manual_code(fields.pass_id),
            )

    font = find_cjk_font(None)
    # Warm-up: one card registers (and parses) the font and fills reportlab's caches, a fixed
    # cost reported as the RSS before drawing rather than charged to the cards.
    warm = SigningKey.generate(KEY_ID)
    warm_text = warm.sign(_pass_fields(0, now))
    render_card_sheets_pdf(
        [Card(warm_text, "0-0-0", "0号楼", "基准小区", first_day, first_day, "-", "AAAA-AAAA")],
        io.BytesIO(),
    )
    rss_start = _status_kib("VmRSS")
    sheet_times: list[float] = []
    last = [time.perf_counter()]

    def progress(_cards: int) -> None:
        moment = time.perf_counter()
        sheet_times.append(moment - last[0])
        last[0] = moment

    with tempfile.TemporaryDirectory(prefix="checkpoint-issuance-") as tmp:
        path = Path(tmp) / "cards.pdf"
        started = time.perf_counter()
        cpu_started = time.process_time()
        last[0] = started
        with path.open("wb") as out:
            pages = render_card_sheets_pdf(cards(), out, on_progress=progress)
        wall_s = time.perf_counter() - started
        loop_cpu_s = time.process_time() - cpu_started
        size = path.stat().st_size
        with path.open("rb") as check:
            head = check.read(5)
    # The last progress call follows save(): that interval is reportlab assembling the file.
    save_s = sheet_times[-1] if sheet_times else 0.0
    draw = sheet_times[:-1]
    return {
        "cards": count,
        "pages": pages,
        "pdf_header_ok": head == b"%PDF-",
        "font": str(font) if font else "STSong-Light (not embedded)",
        "wall_s": wall_s,
        "cards_per_s": count / wall_s if wall_s else 0.0,
        "loop_cpu_s": loop_cpu_s,
        "sign_s": sign_ns[0] / 1e9,
        "per_sheet_ms": common.summary_ms([t * 1000 for t in draw]),
        "save_s": save_s,
        "file_bytes": size,
        "bytes_per_card": size / count if count else 0,
        "rss_start_mib": rss_start / 1024,
        "rss_end_mib": _status_kib("VmRSS") / 1024,
        "vmhwm_mib": _status_kib("VmHWM") / 1024,
    }


# --- the parent ---------------------------------------------------------------------------------


def run_children(
    arg_lists: list[list[str]], script: Path | None = None, pythonpath: str | None = None
) -> list[dict[str, Any]]:
    """Run ``script`` (this one) as one child per argument list, all at once; each child's
    JSON plus its peak RSS and CPU time from wait4, and the wall time of the whole group."""
    script = script or Path(__file__).resolve()
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    children = []
    for args in arg_lists:
        print(f"  child: {' '.join(args)}", file=sys.stderr, flush=True)
        command = [sys.executable, str(script), *args]
        children.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env))
    results = []
    for args, child in zip(arg_lists, children, strict=True):
        assert child.stdout is not None
        output = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"child {args} exited {child.returncode}: {output[-2000:]}")
        data: dict[str, Any] = json.loads(output)
        data["peak_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
        data["cpu_s"] = usage.ru_utime + usage.ru_stime
        results.append(data)
    group_wall = time.perf_counter() - started
    for data in results:
        data["process_wall_s"] = group_wall
    return results


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child with ``args``; its JSON plus its peak RSS from wait4."""
    return run_children([args])[0]


def png_run(passes: int, workers: int, module_px: int) -> dict[str, Any]:
    """``passes`` split over ``workers`` processes running at once; figures for the group."""
    shares = [
        passes // workers + (1 if index < passes % workers else 0) for index in range(workers)
    ]
    firsts = [sum(shares[:index]) for index in range(workers)]
    px = str(module_px)
    parts = run_children(
        [
            ["--phase", "png", "--passes", str(share), "--first", str(first), "--module-px", px]
            for share, first in zip(shares, firsts, strict=True)
        ]
    )
    # The group's wall time: from the first child's start to the last child's end, as the
    # slowest child measured it (its own loop), not counting interpreter start-up.
    wall_s = max(part["wall_s"] for part in parts)
    cpu_s = sum(part["cpu_s"] for part in parts)
    loop_cpu_s = sum(part["loop_cpu_s"] for part in parts)
    return {
        "workers": workers,
        "passes": passes,
        "module_px": module_px,
        "wall_s": wall_s,
        "process_wall_s": parts[0]["process_wall_s"],
        "passes_per_s": passes / wall_s if wall_s else 0.0,
        "cpu_s": cpu_s,
        "loop_cpu_s": loop_cpu_s,
        "cpu_ms_per_pass": loop_cpu_s / passes * 1000 if passes else 0.0,
        "peak_rss_mib": max(part["peak_rss_mib"] for part in parts),
        "peak_rss_all_mib": sum(part["peak_rss_mib"] for part in parts),
        "parts": parts,
    }


def run_before(rev: str, passes: int, cards: int, module_px: int) -> dict[str, Any]:
    """This bench as it was at ``rev``, with that revision's passes/ and gate/ first on the path."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="checkpoint-issuance-before-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", rev, "passes", "gate", "bench"],
            check=True,
            capture_output=True,
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        script = Path(tmp) / "bench" / "issuance.py"
        result: dict[str, Any] = {"rev": rev}
        if passes > 0:
            png_args = ["--phase", "png", "--passes", str(passes), "--module-px", str(module_px)]
            result["png"] = run_children([png_args], script, tmp)[0]
        if cards > 0:
            pdf_args = ["--phase", "pdf", "--cards", str(cards)]
            result["pdf"] = run_children([pdf_args], script, tmp)[0]
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def check(pdf: dict[str, Any]) -> list[dict[str, Any]]:
    """The docstring's claims about the PDF, scaled to the card count."""
    size = pdf["file_bytes"]
    stated_size = STATED_PDF_BYTES_PER_CARD * pdf["cards"]
    growth = (pdf["peak_rss_mib"] - pdf["rss_start_mib"]) * 1024 * 1024
    return [
        {
            "what": "PDF file size",
            "figure": f"{size / 1e6:.2f} MB ({pdf['bytes_per_card']:.0f} B/card)",
            "limit": f"~{stated_size / 1e6:.2f} MB stated (17 MB per 10,000 cards)",
            "ok": size <= stated_size * 1.5,
        },
        {
            "what": "PDF peak memory above start-up",
            "figure": f"{growth / 2**20:.1f} MiB ({growth / size:.1f}x the file)",
            "limit": f"~{STATED_PDF_PEAK_FACTOR:g}x the file stated",
            "ok": growth <= STATED_PDF_PEAK_FACTOR * size * 1.5,
        },
    ]


def _scaled(seconds: float, done: int, target: int) -> float:
    return seconds / done * target if done else math.nan


def _loop_cpu(phase: dict[str, Any]) -> float:
    """CPU seconds of the measured loop; older revisions report only the whole child's
    (interpreter start-up included: ~1 s, a few % of their 2,000-pass runs)."""
    return float(phase.get("loop_cpu_s", phase["cpu_s"]))


def comparison(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Before / after / target rows: wall and CPU, scaled to the target counts."""
    rows: list[dict[str, Any]] = []
    before = data.get("before", {})
    old_png, old_pdf = before.get("png"), before.get("pdf")
    if old_png:
        rows.append(
            {
                "what": f"50,000 passes, before ({before['rev']}, 1 process)",
                "measured": f"{old_png['passes']:,} in {old_png['wall_s']:.1f} s",
                "cpu_ms": _loop_cpu(old_png) / old_png["passes"] * 1000,
                "wall_full_s": _scaled(old_png["wall_s"], old_png["passes"], TARGET_PASSES),
                "processes": 1,
            }
        )
    for run in data.get("png_runs", []):
        rows.append(
            {
                "what": f"50,000 passes, now ({run['workers']} process"
                f"{'es' if run['workers'] > 1 else ''})",
                "measured": f"{run['passes']:,} in {run['wall_s']:.1f} s",
                "cpu_ms": run["cpu_ms_per_pass"],
                "wall_full_s": _scaled(run["wall_s"], run["passes"], TARGET_PASSES),
                "processes": run["workers"],
                "peak": f"{run['peak_rss_all_mib']:.0f} MiB (all processes)",
            }
        )
    if old_pdf:
        rows.append(
            {
                "what": f"10,000-card PDF, before ({before['rev']})",
                "measured": f"{old_pdf['cards']:,} in {old_pdf['wall_s']:.1f} s",
                "cpu_ms": _loop_cpu(old_pdf) / old_pdf["cards"] * 1000,
                "wall_full_s": _scaled(old_pdf["wall_s"], old_pdf["cards"], TARGET_CARDS),
                "processes": 1,
            }
        )
    pdf = data.get("pdf")
    if pdf:
        rows.append(
            {
                "what": "10,000-card PDF, now",
                "measured": f"{pdf['cards']:,} in {pdf['wall_s']:.1f} s",
                "cpu_ms": _loop_cpu(pdf) / pdf["cards"] * 1000,
                "wall_full_s": _scaled(pdf["wall_s"], pdf["cards"], TARGET_CARDS),
                "processes": 1,
                "peak": f"{pdf['peak_rss_mib']:.0f} MiB",
            }
        )
    for row in rows:
        count = TARGET_PASSES if "passes" in row["what"] else TARGET_CARDS
        row["cpu_full_s"] = row["cpu_ms"] * count / 1000 / row["processes"]
    return rows


def summary(data: dict[str, Any]) -> dict[str, str]:
    """One line per figure, first in the JSON (``run_all.py`` tabulates only the first rows)."""
    lines: dict[str, str] = {}
    for run in data.get("png_runs", []):
        lines[f"PNG passes, {run['workers']} process(es)"] = (
            f"{run['passes']:,} in {run['wall_s']:.1f} s (target {TARGET_S:.0f} s for"
            f" {TARGET_PASSES:,}); {run['cpu_ms_per_pass']:.2f} ms CPU per pass; peak RSS"
            f" {run['peak_rss_all_mib']:.0f} MiB over all processes"
        )
    pdf = data.get("pdf")
    if pdf:
        lines["PDF cards"] = (
            f"{pdf['cards']:,} cards, {pdf['pages']:,} pages in {pdf['wall_s']:.1f} s (target"
            f" {TARGET_S:.0f} s for {TARGET_CARDS:,}); {_loop_cpu(pdf) / pdf['cards'] * 1000:.2f}"
            f" ms CPU per card; {pdf['file_bytes'] / 1e6:.1f} MB; peak RSS"
            f" {pdf['peak_rss_mib']:.0f} MiB"
        )
    for row in comparison(data):
        lines[row["what"]] = (
            f"{row['cpu_ms']:.2f} ms CPU each; {row['measured']}, scaled to the full count"
            f" {row['wall_full_s']:.0f} s wall, {row['cpu_full_s']:.0f} s CPU per process"
        )
    for row in data.get("checks", []):
        lines[row["what"]] = (
            f"{row['figure']} vs {row['limit']}: {'met' if row['ok'] else 'NOT MET'}"
        )
    return lines


def _png_lines(run: dict[str, Any]) -> list[str]:
    lines = [
        f"PNG passes, {run['workers']} process(es): {run['passes']:,} signed + rendered"
        f" ({run['module_px']} px/module)",
        f"  wall {run['wall_s']:.1f} s ({run['passes_per_s']:.0f} passes/s), whole group with"
        f" start-up {run['process_wall_s']:.1f} s; CPU {run['loop_cpu_s']:.1f} s"
        f" ({run['cpu_ms_per_pass']:.2f} ms/pass; {run['cpu_s']:.1f} s with start-up);"
        f" peak RSS {run['peak_rss_all_mib']:.1f} MiB summed over the processes",
        f"  {'per process':<30} {'median':>8} {'p95':>8} {'max':>8}",
    ]
    for index, part in enumerate(run["parts"]):
        per, sign, ren = part["per_pass_ms"], part["sign_ms"], part["render_ms"]
        lines += [
            f"  [{index}] {part['passes']:,} passes, mean PNG {part['png_bytes_mean']:.0f} B,"
            f" text {part['text_chars_mean']:.0f} chars; peak RSS {part['peak_rss_mib']:.1f} MiB"
            f" (RSS {part['rss_start_mib']:.1f} after start-up,"
            f" {part['rss_after_10pct_mib']:.1f} after 10 %, {part['rss_end_mib']:.1f} at the end)",
            f"  {'  per pass (sign + render) ms':<30} {per['median']:8.3f} {per['p95']:8.3f}"
            f" {per['max']:8.1f}",
            f"  {'    sign ms':<30} {sign['median']:8.3f} {sign['p95']:8.3f} {sign['max']:8.1f}",
            f"  {'    render_png ms':<30} {ren['median']:8.3f} {ren['p95']:8.3f} {ren['max']:8.1f}",
        ]
    return [*lines, ""]


def render_table(data: dict[str, Any]) -> str:
    lines = [f"machine: {common.machine_line(data['machine'])}", ""]
    for run in data.get("png_runs", []):
        lines += _png_lines(run)
    pdf = data.get("pdf")
    if pdf:
        lines += [
            f"PDF card sheets: {pdf['cards']:,} cards -> {pdf['pages']:,} A4 pages,"
            f" font {pdf['font']}",
            f"wall {pdf['wall_s']:.1f} s ({pdf['cards_per_s']:.1f} cards/s; of which signing"
            f" {pdf['sign_s']:.1f} s, reportlab save() {pdf['save_s']:.1f} s); per sheet median"
            f" {pdf['per_sheet_ms']['median']:.0f} ms; CPU {_loop_cpu(pdf):.1f} s"
            f" ({pdf['cpu_s']:.1f} s with start-up)",
            f"file {pdf['file_bytes'] / 1e6:.2f} MB; peak RSS {pdf['peak_rss_mib']:.1f} MiB"
            f" (RSS {pdf['rss_start_mib']:.1f} MiB before drawing)",
            "",
            f"{'check':<32} {'figure':<30} {'limit':<44} result",
        ]
        for row in data["checks"]:
            result = "met" if row["ok"] else "NOT MET"
            lines.append(f"{row['what']:<32} {row['figure']:<30} {row['limit']:<44} {result}")
        lines.append("")
    rows = comparison(data)
    if rows:
        lines += [
            f"before / after / target (target: {TARGET_S:.0f} s wall for {TARGET_PASSES:,} passes"
            f" and for {TARGET_CARDS:,} cards; 'full' = scaled to those counts)",
            f"{'what':<44} {'CPU ms each':>11} {'measured':>22} {'full s':>7} {'CPU s':>6}  peak",
        ]
        for row in rows:
            lines.append(
                f"{row['what']:<44} {row['cpu_ms']:11.2f} {row['measured']:>22}"
                f" {row['wall_full_s']:7.0f} {row['cpu_full_s']:6.0f}  {row.get('peak', '')}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="full")
    parser.add_argument("--passes", type=int, default=None, help="PNG passes (50000)")
    parser.add_argument("--cards", type=int, default=None, help="cards in the PDF (10000)")
    parser.add_argument("--module-px", type=int, default=10, help="PNG px per module (10)")
    parser.add_argument("--workers", default="1,2", help="PNG processes, one run per entry (1,2)")
    parser.add_argument("--before", metavar="REV", help="also run this bench at git REV")
    parser.add_argument("--before-passes", type=int, default=2000, help="passes at REV (2000)")
    parser.add_argument("--before-cards", type=int, default=1000, help="cards at REV (1000)")
    parser.add_argument("--skip-png", action="store_true", help="only the PDF")
    parser.add_argument("--skip-pdf", action="store_true", help="only the PNGs")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--phase", choices=("png", "pdf"), help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    passes, cards = SCALES[args.scale]
    passes = args.passes if args.passes is not None else passes
    cards = args.cards if args.cards is not None else cards

    if args.phase == "png":
        print(json.dumps(phase_png(passes, args.module_px, args.first)))
        return 0
    if args.phase == "pdf":
        print(json.dumps(phase_pdf(cards)))
        return 0

    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    data: dict[str, Any] = {"machine": common.machine(), "date": stamp}
    if args.before:
        data["before"] = run_before(
            args.before,
            0 if args.skip_png else args.before_passes,
            0 if args.skip_pdf else args.before_cards,
            args.module_px,
        )
    if not args.skip_png and passes > 0:
        worker_counts = [int(part) for part in args.workers.split(",") if part.strip()]
        data["png_runs"] = [png_run(passes, count, args.module_px) for count in worker_counts]
    if not args.skip_pdf and cards > 0:
        data["pdf"] = run_child(["--phase", "pdf", "--cards", str(cards)])
        data["checks"] = check(data["pdf"])
        data["ok"] = all(row["ok"] for row in data["checks"]) and data["pdf"]["pdf_header_ok"]
    else:
        data["ok"] = True
    data["machine"]["load_1min_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"summary": summary(data), **data}, indent=1))
    else:
        print(render_table(data))
    return 0 if data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
