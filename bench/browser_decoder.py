"""Benchmark: the phone gate's QR decoder in headless Chromium against plain zxing-cpp.

Runs every ``N.png``/``N.jpg`` with an ``N.txt`` expected text under a photo directory
(default ``/work/shared/qr-photos``, the ZXing blackbox QR sets) through:

- page decoder: ``GateDecoder.decodeAll`` of ``gate/static/js/gate-decoder.js`` exactly as
  the gate page runs it (the vendored zxing-wasm reader, every symbol in the frame, frames
  scaled to at most 1920 px wide; the page takes a pass's text first), in Debian's Chromium
  (headless, driven by Playwright);
- zxing-wasm full size: the same WebAssembly reader on the image at full size;
- jsQR: the page's old decoder (kept as its last fallback), on the image at full size;
- zxing-cpp: ``zxingcpp.read_barcodes(image)`` in Python with its defaults (the reference
  the issue names),

and prints, per decoder, how many photos it reads, the rate and the median and
95th-percentile time per image. A photo counts as read when its expected text (exact bytes)
is among the texts the decoder returns (a few photos hold two symbols), as for zxing-cpp.
Image loading is not timed. The app's static
files are served by a throwaway HTTP server on 127.0.0.1 (nothing from a CDN).

    .venv/bin/python bench/browser_decoder.py [PHOTO_DIR] [--json]
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "gate" / "static"
CHROMIUM = "/usr/bin/chromium"
DEFAULT_PHOTOS = Path("/work/shared/qr-photos")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>decoder bench</title></head>
<body>
<script src="/static/vendor/zxing-wasm/zxing_reader.js"></script>
<script src="/static/js/gate-decoder.js"
        data-wasm-url="/static/vendor/zxing-wasm/zxing_reader.wasm"></script>
<script src="/static/vendor/jsqr/jsQR.js"></script>
</body></html>
"""

# One case in the page: load the image (not timed), then each decoder on it (timed).
RUN_CASE = """async (url) => {
  const blob = await (await fetch(url)).blob();
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", {willReadFrequently: true});
  context.drawImage(bitmap, 0, 0);
  const full = context.getImageData(0, 0, bitmap.width, bitmap.height);
  const timed = async (work) => {
    const start = performance.now();
    let texts = [];
    try { texts = await work(); } catch (error) { texts = []; }
    return {texts, ms: performance.now() - start};
  };
  return {
    page: await timed(() => window.GateDecoder.decodeAll(bitmap)),
    full: await timed(async () => {
      const found = await window.ZXingWASM.readBarcodes(full, {formats: ["QRCode"]});
      return found.filter((r) => r.isValid).map((r) => r.text);
    }),
    jsqr: await timed(async () => {
      const found = window.jsQR(full.data, full.width, full.height);
      return found ? [found.data] : [];
    }),
  };
}"""


@dataclass(frozen=True)
class Case:
    path: Path
    expected: str


@dataclass
class Tally:
    name: str
    read: int = 0
    total: int = 0
    times_ms: list[float] | None = None
    read_paths: set[Path] | None = None

    def add(self, ok: bool, ms: float, path: Path) -> None:
        self.total += 1
        self.read += ok
        if self.read_paths is None:
            self.read_paths = set()
        if ok:
            self.read_paths.add(path)
        if self.times_ms is None:
            self.times_ms = []
        self.times_ms.append(ms)

    def summary(self) -> dict[str, Any]:
        times = sorted(self.times_ms or [0.0])
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        return {
            "decoder": self.name,
            "read": self.read,
            "total": self.total,
            "rate": round(self.read / self.total, 3) if self.total else 0.0,
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(p95, 1),
        }


def load_cases(root: Path) -> list[Case]:
    cases = []
    for path in sorted(root.rglob("*")):
        expected = path.with_suffix(".txt")
        if path.suffix.lower() in {".png", ".jpg", ".jpeg"} and expected.exists():
            # Exact bytes: zxing's blackbox tests do not strip a trailing newline either.
            cases.append(Case(path, expected.read_bytes().decode("utf-8")))
    return cases


@contextmanager
def serve(photos: Path) -> Iterator[str]:
    """The page, the app's static files and the photos on a loopback port."""
    with tempfile.TemporaryDirectory() as directory:
        site = Path(directory)
        (site / "bench.html").write_text(PAGE, encoding="utf-8")
        (site / "static").symlink_to(STATIC)
        (site / "photos").symlink_to(photos.resolve())

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(site))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()


def browser_run(cases: list[Case], photos: Path) -> tuple[list[Tally], str]:
    from playwright.sync_api import sync_playwright

    tallies = {key: Tally(name) for key, name in _BROWSER_DECODERS.items()}
    with serve(photos) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/bench.html")
            decoder = page.evaluate("() => window.GateDecoder.ready()")
            version = browser.version
            page.evaluate(RUN_CASE, f"{base}/photos/{cases[0].path.relative_to(photos)}")  # warm
            for case in cases:
                url = f"{base}/photos/{case.path.relative_to(photos).as_posix()}"
                result = page.evaluate(RUN_CASE, url)
                for key, tally in tallies.items():
                    tally.add(case.expected in result[key]["texts"], result[key]["ms"], case.path)
        finally:
            browser.close()
    if decoder != "zxing-wasm":
        print(f"warning: the page fell back to {decoder}", file=sys.stderr)
    return list(tallies.values()), f"Chromium {version}, page decoder {decoder}"


_BROWSER_DECODERS = {
    "page": "page decoder (zxing-wasm, <=1920 px)",
    "full": "zxing-wasm full size",
    "jsqr": "jsQR full size",
}


def python_run(cases: list[Case]) -> Tally:
    import cv2
    import zxingcpp

    tally = Tally(f"zxing-cpp {importlib.metadata.version('zxing-cpp')} (Python)")
    images = [cv2.imread(str(case.path), cv2.IMREAD_COLOR) for case in cases]
    zxingcpp.read_barcodes(images[0])  # warm
    for case, image in zip(cases, images, strict=True):
        start = time.perf_counter()
        texts = [] if image is None else [b.text for b in zxingcpp.read_barcodes(image)]
        tally.add(case.expected in texts, (time.perf_counter() - start) * 1000, case.path)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    cases = load_cases(args.photos)
    if not cases:
        parser.error(f"no photos with expected texts under {args.photos}")
    browser_tallies, browser = browser_run(cases, args.photos)
    reference = python_run(cases)
    rows = [t.summary() for t in (*browser_tallies, reference)]
    missed = sorted(
        str(path.relative_to(args.photos))
        for path in (reference.read_paths or set()) - (browser_tallies[0].read_paths or set())
    )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"
    if args.json:
        answer = {"machine": machine, "browser": browser, "results": rows, "page_missed": missed}
        print(json.dumps(answer, indent=2))
        return 0
    print(f"{len(cases)} photos under {args.photos}; {machine}; {browser}")
    print(f"{'decoder':40} {'read':>9} {'rate':>6} {'median ms':>10} {'p95 ms':>8}")
    for row in rows:
        read = f"{row['read']}/{row['total']}"
        print(
            f"{row['decoder']:40} {read:>9} {row['rate']:>6.1%} "
            f"{row['median_ms']:>10} {row['p95_ms']:>8}"
        )
    verdict = "none" if not missed else ", ".join(missed)
    print(f"photos zxing-cpp reads that the page decoder does not: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
