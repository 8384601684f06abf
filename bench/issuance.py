"""Issuing at district scale: sign and render N pass PNGs, and print a K-card PDF of sheets.

Two measurements, each in a child process of its own so that its peak RSS (``ru_maxrss``
from ``wait4``, which is the child's VmHWM) is its own and not this parent's:

- ``png``: ``--passes`` passes (50,000; ``--scale small``: 2,000), each signed with
  ``passes.SigningKey.sign`` (fresh Ed25519 key, random pass id, 30-day validity) and rendered
  with ``passes.render_png`` (the default 10 px per module). Wall time, passes per second,
  per-pass median / p95 / max of sign and of render, PNG bytes, and the child's peak RSS
  (with its RSS after start-up and after 10 % of the passes, to show whether it grows).
- ``pdf``: ``--cards`` cards (10,000; small: 500) through
  ``gate.issuing.printing.render_card_sheets_pdf`` into a temporary file (deleted after).
  The cards are made lazily by a generator that signs each pass as it is pulled, as
  ``gate.issuing.cards.CardBuilder`` does (it re-signs every pass): the time therefore
  includes signing (timed separately, and small) and the QR module matrix of each card
  (``qrcode``, pure Python, the bulk of the cost). Wall time, pages, file size, peak RSS.

QR generation is pure Python (``qrcode``) and single-threaded: expect about 20 ms per pass.
Nothing here runs in parallel; on a 2-CPU machine a second process would halve the wall time.

Limits: the project states none for issuing time. ``render_card_sheets_pdf``'s docstring
claims a peak of about 3x the output size and a 15 MB file for 10,000 cards (about 1.5 KB a
card); those claims are checked (scaled to the card count, with 50 % slack for "about") and
reported next to the figures. On a busy machine wall times include waiting for a CPU: compare
the CPU seconds per pass (``cpu_s`` of the child / passes), printed beside the wall figures.

Usage::

    .venv/bin/python bench/issuance.py                     # 50,000 PNGs + 10,000-card PDF
    .venv/bin/python bench/issuance.py --scale small       # 2,000 PNGs + 500-card PDF
    .venv/bin/python bench/issuance.py --passes 5000 --cards 1000 --json
"""

from __future__ import annotations

import argparse
import io
import json
import os
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
STATED_PDF_BYTES_PER_CARD = 15_000_000 / 10_000
"""``render_card_sheets_pdf``'s docstring: a 15 MB file for 10,000 cards."""
STATED_PDF_PEAK_FACTOR = 3.0
"""Same docstring: peak memory roughly 3x the output size."""
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


def phase_png(count: int, module_px: int) -> dict[str, Any]:
    """Sign and render ``count`` passes; per-pass timings and RSS checkpoints."""
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
    started = clock()
    for index in range(count):
        t0 = clock()
        text = key.sign(_pass_fields(index, now))
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
    per_pass = [a + b for a, b in zip(sign_ns, render_ns, strict=True)]
    return {
        "passes": count,
        "module_px": module_px,
        "wall_s": wall_s,
        "passes_per_s": count / wall_s if wall_s else 0.0,
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
        last[0] = started
        with path.open("wb") as out:
            pages = render_card_sheets_pdf(cards(), out, on_progress=progress)
        wall_s = time.perf_counter() - started
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


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child with ``args``; its JSON plus its peak RSS from wait4."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    print(f"  child: {' '.join(args)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"child {args} exited {child.returncode}: {output[-2000:]}")
    data: dict[str, Any] = json.loads(output)
    data["process_wall_s"] = time.perf_counter() - started
    data["peak_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    data["cpu_s"] = usage.ru_utime + usage.ru_stime
    return data


def check(pdf: dict[str, Any]) -> list[dict[str, Any]]:
    """The docstring's claims about the PDF, scaled to the card count."""
    size = pdf["file_bytes"]
    stated_size = STATED_PDF_BYTES_PER_CARD * pdf["cards"]
    growth = (pdf["peak_rss_mib"] - pdf["rss_start_mib"]) * 1024 * 1024
    return [
        {
            "what": "PDF file size",
            "figure": f"{size / 1e6:.2f} MB ({pdf['bytes_per_card']:.0f} B/card)",
            "limit": f"~{stated_size / 1e6:.2f} MB stated (15 MB per 10,000 cards)",
            "ok": size <= stated_size * 1.5,
        },
        {
            "what": "PDF peak memory above start-up",
            "figure": f"{growth / 2**20:.1f} MiB ({growth / size:.1f}x the file)",
            "limit": f"~{STATED_PDF_PEAK_FACTOR:g}x the file stated",
            "ok": growth <= STATED_PDF_PEAK_FACTOR * size * 1.5,
        },
    ]


def summary(data: dict[str, Any]) -> dict[str, str]:
    """One line per figure, first in the JSON (``run_all.py`` tabulates only the first rows)."""
    lines: dict[str, str] = {}
    png, pdf = data.get("png"), data.get("pdf")
    if png:
        lines["PNG passes"] = (
            f"{png['passes']:,} in {png['wall_s']:.0f} s; per pass median"
            f" {png['per_pass_ms']['median']:.1f} ms wall,"
            f" {png['cpu_s'] / png['passes'] * 1000:.1f} ms CPU; peak RSS"
            f" {png['peak_rss_mib']:.0f} MiB"
        )
    if pdf:
        lines["PDF cards"] = (
            f"{pdf['cards']:,} cards, {pdf['pages']:,} pages in {pdf['wall_s']:.0f} s;"
            f" {pdf['file_bytes'] / 1e6:.1f} MB; peak RSS {pdf['peak_rss_mib']:.0f} MiB"
        )
    for row in data.get("checks", []):
        lines[row["what"]] = (
            f"{row['figure']} vs {row['limit']}: {'met' if row['ok'] else 'NOT MET'}"
        )
    return lines


def render_table(data: dict[str, Any]) -> str:
    png, pdf = data.get("png"), data.get("pdf")
    lines = [f"machine: {common.machine_line(data['machine'])}", ""]
    if png:
        per, sign, ren = png["per_pass_ms"], png["sign_ms"], png["render_ms"]
        lines += [
            f"PNG passes: {png['passes']:,} signed + rendered ({png['module_px']} px/module),"
            f" mean PNG {png['png_bytes_mean']:.0f} B, pass text {png['text_chars_mean']:.0f}"
            " chars",
            "",
            f"{'figure':<34} {'median':>9} {'p95':>9} {'max':>9}",
            f"{'per pass (sign + render) ms':<34} {per['median']:9.2f} {per['p95']:9.2f}"
            f" {per['max']:9.1f}",
            f"{'  sign ms':<34} {sign['median']:9.3f} {sign['p95']:9.3f} {sign['max']:9.2f}",
            f"{'  render_png ms':<34} {ren['median']:9.2f} {ren['p95']:9.2f} {ren['max']:9.1f}",
            "",
            f"wall {png['wall_s']:.1f} s ({png['passes_per_s']:.1f} passes/s, one process);"
            f" CPU {png['cpu_s']:.1f} s ({png['cpu_s'] / png['passes'] * 1000:.1f} ms/pass);"
            f" peak RSS {png['peak_rss_mib']:.1f} MiB"
            f" (RSS {png['rss_start_mib']:.1f} MiB after start-up,"
            f" {png['rss_after_10pct_mib']:.1f} after 10 %, {png['rss_end_mib']:.1f} at the end)",
            "limit: none stated (expected ~20 ms per pass for pure-Python qrcode)",
            "",
        ]
    if pdf:
        lines += [
            f"PDF card sheets: {pdf['cards']:,} cards -> {pdf['pages']:,} A4 pages,"
            f" font {pdf['font']}",
            f"wall {pdf['wall_s']:.1f} s ({pdf['cards_per_s']:.1f} cards/s; of which signing"
            f" {pdf['sign_s']:.1f} s, reportlab save() {pdf['save_s']:.1f} s); per sheet median"
            f" {pdf['per_sheet_ms']['median']:.0f} ms; CPU {pdf['cpu_s']:.1f} s",
            f"file {pdf['file_bytes'] / 1e6:.2f} MB; peak RSS {pdf['peak_rss_mib']:.1f} MiB"
            f" (RSS {pdf['rss_start_mib']:.1f} MiB before drawing)",
            "",
            f"{'check':<32} {'figure':<30} {'limit':<44} result",
        ]
        for row in data["checks"]:
            result = "met" if row["ok"] else "NOT MET"
            lines.append(f"{row['what']:<32} {row['figure']:<30} {row['limit']:<44} {result}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="full")
    parser.add_argument("--passes", type=int, default=None, help="PNG passes (50000)")
    parser.add_argument("--cards", type=int, default=None, help="cards in the PDF (10000)")
    parser.add_argument("--module-px", type=int, default=10, help="PNG px per module (10)")
    parser.add_argument("--skip-png", action="store_true", help="only the PDF")
    parser.add_argument("--skip-pdf", action="store_true", help="only the PNGs")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--phase", choices=("png", "pdf"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    passes, cards = SCALES[args.scale]
    passes = args.passes if args.passes is not None else passes
    cards = args.cards if args.cards is not None else cards

    if args.phase == "png":
        print(json.dumps(phase_png(passes, args.module_px)))
        return 0
    if args.phase == "pdf":
        print(json.dumps(phase_pdf(cards)))
        return 0

    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    data: dict[str, Any] = {"machine": common.machine(), "date": stamp}
    common_args = ["--passes", str(passes), "--cards", str(cards)]
    if not args.skip_png and passes > 0:
        data["png"] = run_child(
            ["--phase", "png", *common_args, "--module-px", str(args.module_px)]
        )
    if not args.skip_pdf and cards > 0:
        data["pdf"] = run_child(["--phase", "pdf", *common_args])
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
