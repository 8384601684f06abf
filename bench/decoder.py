"""Benchmark: the gate's QR decoder against each QR library called plainly.

Runs every ``N.png``/``N.jpg`` with an ``N.txt`` expected text under a photo directory
(default ``/work/shared/qr-photos``, the ZXing blackbox QR sets) through:

- checkpoint: ``scanner.decoding.Decoder`` at the gate budget (and at a generous one),
- zxing-cpp: ``zxingcpp.read_barcodes(image)`` with its defaults,
- pyzbar: ``pyzbar.decode(gray)`` restricted to QR,
- OpenCV QRCodeDetector: ``cv2.QRCodeDetector().detectAndDecode(image)``,
- OpenCV WeChat: ``cv2.wechat_qrcode.WeChatQRCode()`` without model files,

and prints, per decoder, the decode rate (expected text found exactly) and the median and
95th-percentile wall time per image. Image loading is not timed; each decoder is warmed
up on the first image first.

    .venv/bin/python bench/decoder.py [PHOTO_DIR] [--json] [--budget-ms 40]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from scanner.decoding import Decoder, DecoderConfig

Image = npt.NDArray[np.uint8]
Reader = Callable[[Image], list[str]]


@dataclass(frozen=True)
class Case:
    path: Path
    expected: str
    image: Image


def load_cases(root: Path) -> list[Case]:
    cases = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in {".png", ".jpg", ".jpeg"}:
            continue
        expected_file = path.with_suffix(".txt")
        if not expected_file.exists():
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            print(f"skipped unreadable {path}", file=sys.stderr)
            continue
        # Exact bytes: zxing's blackbox tests do not strip a trailing newline either.
        expected = expected_file.read_bytes().decode("utf-8")
        cases.append(Case(path, expected, np.asarray(image, dtype=np.uint8)))
    return cases


def checkpoint_reader(budget_ms: float) -> Reader:
    decoder = Decoder(DecoderConfig(budget_ms=budget_ms))
    return lambda image: list(decoder.decode(image).texts)


def zxing_reader() -> Reader:
    import zxingcpp

    return lambda image: [b.text for b in zxingcpp.read_barcodes(image)]


def pyzbar_reader() -> Reader:
    from pyzbar import pyzbar

    def read(image: Image) -> list[str]:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
        return [s.data.decode("utf-8", errors="replace") for s in found]

    return read


def opencv_reader() -> Reader:
    detector = cv2.QRCodeDetector()

    def read(image: Image) -> list[str]:
        try:
            text, _points, _straight = detector.detectAndDecode(image)
        except (cv2.error, UnicodeDecodeError):
            return []
        return [text] if text else []

    return read


def wechat_reader() -> Reader:
    reader = cv2.wechat_qrcode.WeChatQRCode()

    def read(image: Image) -> list[str]:
        try:
            texts, _points = reader.detectAndDecode(image)
        except (cv2.error, UnicodeDecodeError):
            return []
        return list(texts)

    return read


@dataclass(frozen=True)
class Row:
    decoder: str
    found: int
    images: int
    rate: float
    median_ms: float
    p95_ms: float
    max_ms: float
    misses: list[str]


def run(name: str, reader: Reader, cases: list[Case]) -> Row:
    reader(cases[0].image)  # warm-up: lazy imports, allocations, cost estimates
    found = 0
    times_ms = []
    misses = []
    for case in cases:
        started = time.perf_counter()
        texts = reader(case.image)
        times_ms.append((time.perf_counter() - started) * 1000)
        if case.expected in texts:
            found += 1
        else:
            misses.append(str(case.path))
    return Row(
        decoder=name,
        found=found,
        images=len(cases),
        rate=found / len(cases),
        median_ms=statistics.median(times_ms),
        p95_ms=float(np.percentile(times_ms, 95)),
        max_ms=max(times_ms),
        misses=misses,
    )


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "zxing_cpp": importlib.metadata.version("zxing-cpp"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="?", default="/work/shared/qr-photos", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--budget-ms", type=float, default=40.0, help="gate budget per frame")
    parser.add_argument("--misses", action="store_true", help="list the images each one missed")
    args = parser.parse_args(argv)

    cases = load_cases(args.photos)
    if not cases:
        print(f"no images with expected .txt under {args.photos}", file=sys.stderr)
        return 1
    readers: list[tuple[str, Reader]] = [
        (f"checkpoint ({args.budget_ms:g} ms budget)", checkpoint_reader(args.budget_ms)),
        ("checkpoint (1000 ms budget)", checkpoint_reader(1000.0)),
        ("zxing-cpp read_barcodes", zxing_reader()),
        ("pyzbar", pyzbar_reader()),
        ("OpenCV QRCodeDetector", opencv_reader()),
        ("OpenCV WeChat (no models)", wechat_reader()),
    ]
    rows = [run(name, reader, cases) for name, reader in readers]

    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine(),
                    "photos": str(args.photos),
                    "results": [asdict(r) for r in rows],
                }
            )
        )
        return 0
    print(f"{len(cases)} images under {args.photos}; {machine()}")
    print(
        f"{'decoder':34} {'decoded':>9} {'rate':>7} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}"
    )
    for row in rows:
        print(
            f"{row.decoder:34} {row.found:>5}/{row.images:<3} {row.rate:>7.1%}"
            f" {row.median_ms:>10.2f} {row.p95_ms:>8.2f} {row.max_ms:>8.1f}"
        )
        if args.misses and row.misses:
            print("    missed: " + " ".join(row.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
