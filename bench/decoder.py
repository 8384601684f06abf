"""Benchmark: the gate's QR decoder against each QR library called plainly.

Runs every ``N.png``/``N.jpg`` with an ``N.txt`` expected text (and optionally ``N.also.txt``,
a JSON list of the photo's other codes: reading any one counts) under one or more photo
directories through the readers below (``--only`` picks some; ``--by-folder`` gives rates per
folder, e.g. per BoofCV category). Photo sets:

- ``/work/shared/qr-photos`` (the default): ZXing's blackbox QR sets 1-3.
- ZXing's sets 4-6: ``core/src/test/resources/blackbox/qrcode-{4,5,6}`` of github.com/zxing/zxing
  (Apache-2.0), copied as they are to ``/work/photos/zxing-qrcode-{4,5,6}``.
- BoofCV's QR benchmark (``qrcodes_v3``: 536 photos in 16 categories: blurred, bright spots,
  glare, curved, damaged, ...): ``bench/boofcv_photos.py`` says where to get it and converts
  it to ``/work/photos/boofcv/<category>`` (478 photos with a code readable from its labelled
  corners; the other 58 no reader gets an answer to check against).

Photos are not committed (licences, size). Readers:

- checkpoint frame path: ``scanner.decoding.Decoder`` as a scanner runs it (40 ms budget,
  slow fallbacks off the frame path), one frame per image; only what it read from that
  frame counts (not a background-lane answer about the previous photo);
- checkpoint plan only: the same with a clock that never moves, so what the fixed cost plan
  allows runs whatever the machine's load (the figure a quiet machine gives; deterministic);
- checkpoint, card held: the same decoder fed the same image as consecutive camera frames
  for up to one second, so the background lane's answer (on a later frame) counts;
- checkpoint stills: fallbacks inline, 1000 ms (the decode command);
- zxing-cpp: ``zxingcpp.read_barcodes(image)`` with its defaults,
- pyzbar: ``pyzbar.decode(gray)`` restricted to QR,
- OpenCV QRCodeDetector: ``cv2.QRCodeDetector().detectAndDecode(image)``,
- OpenCV WeChat: ``cv2.wechat_qrcode.WeChatQRCode()`` without model files,

and prints, per decoder, the decode rate (expected text found exactly) and the median and
95th-percentile wall time per image. Image loading is not timed; each decoder is warmed
up on the first image first. Then, for the frame path: the cost of frames with no code
(synthetic cluttered 640x480 scenes: median, p95, max), the longest call over every frame
as a multiple of the budget, and how many photos got a different answer on a repeat call.

    .venv/bin/python bench/decoder.py [PHOTO_DIR ...] [--json] [--budget-ms 40] [--empty 600]
        [--only frame,plan,held,stills,zxing,pyzbar,opencv,wechat] [--by-folder] [--misses]

CPU columns are the calling thread's CPU time per image (OpenCV's own worker threads are
not in it); on a loaded machine judge by them and by the plan-only rate.
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
import zxingcpp

from passes.qr import render_png
from scanner.decoding import Decoder, DecoderConfig
from scanner.decoding.decoder import Fallbacks

Image = npt.NDArray[np.uint8]
Reader = Callable[[Image], list[str]]


@dataclass(frozen=True)
class Case:
    path: Path
    expected: str
    also: tuple[str, ...] = ()
    """Other codes in the photo (``N.also.txt``, a JSON list): reading any one counts."""

    @property
    def image(self) -> Image:
        """The photo, loaded on each use (hundreds of 12 MP photos do not fit in memory)."""
        image = cv2.imread(str(self.path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            raise OSError(f"unreadable image {self.path}")
        return np.asarray(image, dtype=np.uint8)

    def read_in(self, texts: list[str]) -> bool:
        return self.expected in texts or any(text in texts for text in self.also)


def load_cases(root: Path) -> list[Case]:
    cases = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in {".png", ".jpg", ".jpeg"} or path.name.startswith("."):
            continue
        expected_file = path.with_suffix(".txt")
        if not expected_file.exists():
            continue
        if not cv2.haveImageReader(str(path)):
            print(f"skipped unreadable {path}", file=sys.stderr)
            continue
        # Exact bytes: zxing's blackbox tests do not strip a trailing newline either.
        expected = expected_file.read_bytes().decode("utf-8")
        also_file = path.with_suffix(".also.txt")
        also = tuple(json.loads(also_file.read_text())) if also_file.exists() else ()
        cases.append(Case(path, expected, also))
    return cases


def checkpoint_reader(
    budget_ms: float, fallbacks: Fallbacks = "background", *, plan_only: bool = False
) -> Reader:
    config = DecoderConfig(budget_ms=budget_ms, fallbacks=fallbacks)
    decoder = Decoder(config, clock=lambda: 0.0) if plan_only else Decoder(config)

    def read(image: Image) -> list[str]:
        result = decoder.decode(image)
        return [] if result.late else list(result.texts)

    return read


def held_card_reader(budget_ms: float, hold_s: float = 1.0) -> Reader:
    """The same image as consecutive frames (one per ``budget_ms``) until something is read
    or ``hold_s`` passed: what a scanner reads while a card is held in front of it."""
    decoder = Decoder(DecoderConfig(budget_ms=budget_ms))

    def read(image: Image) -> list[str]:
        ends = time.perf_counter() + hold_s
        while True:
            texts = list(decoder.decode(image).texts)
            if texts or time.perf_counter() >= ends:
                return texts
            time.sleep(budget_ms / 1000)

    return read


def scene(rng: np.random.Generator) -> Image:
    """A 640x480 gray frame with no code: shapes, lines, text, blur and sensor noise."""
    h, w = 480, 640
    img = np.full((h, w), int(rng.integers(60, 200)), np.uint8)
    ramp = (np.linspace(0, 60, w)[None, :] * rng.random()).astype(np.uint8).repeat(h, 0)
    img = np.asarray(cv2.add(img, ramp), dtype=np.uint8)
    for _ in range(int(rng.integers(3, 25))):
        c = int(rng.integers(0, 255))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            size = (x + int(rng.integers(5, 200)), y + int(rng.integers(5, 200)))
            cv2.rectangle(img, (x, y), size, c, -1)
        elif kind == 1:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, (x, y), end, c, int(rng.integers(1, 6)))
        elif kind == 2:
            scale = float(rng.uniform(0.5, 2))
            cv2.putText(img, "ABC 123", (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, c, 2)
        else:
            cv2.circle(img, (x, y), int(rng.integers(3, 80)), c, -1)
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 2))), dtype=np.uint8)
    noise = rng.normal(0, rng.uniform(1, 8), img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def bent_or_tilted(rng: np.random.Generator, kind: str, level: float) -> tuple[Image, str]:
    """A pass-like code on a card bent around a cylinder (``level``: half the arc, radians)
    or tilted away (``level``: how much shorter the far edge is), in a cluttered frame."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    text = "CP1:" + "".join(alphabet[int(i)] for i in rng.integers(0, 45, size=146))
    png = render_png(text, module_px=8)
    code = np.asarray(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE), np.uint8)
    h, w = code.shape
    if kind == "bent":
        arc = np.linspace(-level, level, w)
        map_x = np.tile((np.sin(arc) / np.sin(level) + 1) * (w - 1) / 2, (h, 1))
        bow = (np.cos(arc) - np.cos(level)) * h * 0.08
        rows = np.arange(h)[:, None]
        map_y = rows - bow[None, :] * (rows / h - 0.5) * 2
        code = np.asarray(
            cv2.remap(
                code,
                map_x.astype(np.float32),
                map_y.astype(np.float32),
                cv2.INTER_LINEAR,
                borderValue=255,
            ),
            np.uint8,
        )
        source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        target = source
    else:
        squeeze = level * w / 2
        source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        target = np.float32([[squeeze, 0], [w - squeeze, 0], [w, h], [0, h]])
    frame = scene(rng)
    side = float(rng.uniform(300, 420))
    scale = side / w
    offset = np.float32([rng.uniform(0, 640 - side), rng.uniform(0, 480 - side)])
    matrix = cv2.getPerspectiveTransform(source, target * scale + offset)
    warped = cv2.warpPerspective(code, matrix, (640, 480), borderValue=0)
    inside = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (640, 480)) > 0
    frame[inside] = warped[inside]
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), 0.8), np.uint8), text


def bent_rows(count: int, budget_ms: float) -> list[tuple[str, int, int, int]]:
    """(case, frames, read by the frame path, read by plain zxing-cpp) per synthetic case."""
    decoder = Decoder(DecoderConfig(budget_ms=budget_ms))
    rows = []
    for kind, level in (("bent", 0.9), ("bent", 1.15), ("bent", 1.3), ("tilted", 0.45)):
        rng = np.random.default_rng(int(level * 100))
        ours = plain = 0
        for _ in range(count):
            frame, text = bent_or_tilted(rng, kind, level)
            ours += text in decoder.decode(frame).texts
            plain += text in [found.text for found in zxingcpp.read_barcodes(frame)]
        rows.append((f"{kind} {level:g}", count, ours, plain))
    return rows


@dataclass
class FramePath:
    empty_frames: int
    empty_median_ms: float
    empty_p95_ms: float
    empty_max_ms: float
    empty_code_like: int
    empty_cpu_median_ms: float
    empty_cpu_p95_ms: float
    calls: int
    max_call_ms: float
    max_over_budget: float
    photos_differing_on_repeat: int
    max_call_cpu_ms: float = 0.0
    """The most CPU time of the decoding thread one call took (load does not inflate it)."""


def frame_path(cases: list[Case], budget_ms: float, empty: int) -> FramePath:
    """Empty-frame cost, the longest call, and repeat-call agreement, on the frame path."""
    decoder = Decoder(DecoderConfig(budget_ms=budget_ms))
    rng = np.random.default_rng(2026)
    frames = [scene(rng) for _ in range(empty)]
    decoder.decode(frames[0])
    empty_ms = []
    cpu_ms = []
    code_like = 0
    for frame in frames:
        cpu = time.thread_time()
        result = decoder.decode(frame)
        cpu_ms.append((time.thread_time() - cpu) * 1000)
        empty_ms.append(result.ms)
        code_like += result.code_like
    calls = list(empty_ms)
    calls_cpu = list(cpu_ms)
    differing = 0
    for case in cases:
        image = case.image
        cpu = time.thread_time()
        first = decoder.decode(image)
        calls_cpu.append((time.thread_time() - cpu) * 1000)
        again = decoder.decode(image)
        calls += [first.ms, again.ms]
        if (first.texts, first.variant) != (again.texts, again.variant) and not again.late:
            differing += 1
    decoder.close()
    return FramePath(
        empty_frames=empty,
        empty_median_ms=statistics.median(empty_ms),
        empty_p95_ms=float(np.percentile(empty_ms, 95)),
        empty_max_ms=max(empty_ms),
        empty_code_like=code_like,
        empty_cpu_median_ms=statistics.median(cpu_ms),
        empty_cpu_p95_ms=float(np.percentile(cpu_ms, 95)),
        calls=len(calls),
        max_call_ms=max(calls),
        max_over_budget=max(calls) / budget_ms,
        photos_differing_on_repeat=differing,
        max_call_cpu_ms=max(calls_cpu),
    )


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
    cpu_median_ms: float = 0.0
    cpu_p95_ms: float = 0.0
    """CPU time of the calling thread per image (the machine's load does not inflate it)."""


def run(name: str, reader: Reader, cases: list[Case]) -> Row:
    reader(cases[0].image)  # warm-up: lazy imports, allocations, cost estimates
    found = 0
    times_ms = []
    cpu_ms = []
    misses = []
    for case in cases:
        image = case.image  # loading is not timed
        cpu = time.thread_time()
        started = time.perf_counter()
        texts = reader(image)
        times_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.thread_time() - cpu) * 1000)
        if case.read_in(texts):
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
        cpu_median_ms=statistics.median(cpu_ms),
        cpu_p95_ms=float(np.percentile(cpu_ms, 95)),
    )


def print_by_folder(cases: list[Case], rows: list[Row]) -> None:
    """Read/total per photo folder, one column per decoder."""
    folders = sorted({case.path.parent for case in cases})
    print(f"{'folder':20} {'photos':>6}  " + "  ".join(f"{row.decoder[:22]:>22}" for row in rows))
    for folder in folders:
        paths = {str(case.path) for case in cases if case.path.parent == folder}
        cells = []
        for row in rows:
            missed = len(paths.intersection(row.misses))
            cells.append(f"{len(paths) - missed:>16} ({1 - missed / len(paths):>4.0%})")
        print(f"{folder.name[:20]:20} {len(paths):>6}  " + "  ".join(cells))


READERS = ("frame", "plan", "held", "stills", "zxing", "pyzbar", "opencv", "wechat")
"""``--only`` names of the readers, in the order they run."""


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
    parser.add_argument("photos", nargs="*", default=[Path("/work/shared/qr-photos")], type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--budget-ms", type=float, default=40.0, help="gate budget per frame")
    parser.add_argument("--misses", action="store_true", help="list the images each one missed")
    parser.add_argument("--empty", type=int, default=600, help="empty frames for the frame path")
    parser.add_argument(
        "--bent", type=int, default=100, help="synthetic bent/tilted cards per case (0: none)"
    )
    parser.add_argument(
        "--only",
        default=",".join(READERS),
        help=f"comma-separated readers to run, of {','.join(READERS)} (default: all)",
    )
    parser.add_argument(
        "--by-folder", action="store_true", help="rates per photo folder (BoofCV: per category)"
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in READERS]
    if unknown:
        parser.error(f"unknown reader(s) {', '.join(unknown)}; choose from {', '.join(READERS)}")

    cases = [case for root in args.photos for case in load_cases(root)]
    if not cases:
        print(f"no images with expected .txt under {args.photos}", file=sys.stderr)
        return 1
    budget = args.budget_ms
    readers: dict[str, tuple[str, Callable[[], Reader]]] = {
        "frame": (f"checkpoint frame path ({budget:g} ms)", lambda: checkpoint_reader(budget)),
        "plan": (
            f"checkpoint plan only ({budget:g} ms)",
            lambda: checkpoint_reader(budget, "off", plan_only=True),
        ),
        "held": ("checkpoint, card held 1 s", lambda: held_card_reader(budget)),
        "stills": ("checkpoint stills (1000 ms)", lambda: checkpoint_reader(1000.0, "inline")),
        "zxing": ("zxing-cpp read_barcodes", zxing_reader),
        "pyzbar": ("pyzbar", pyzbar_reader),
        "opencv": ("OpenCV QRCodeDetector", opencv_reader),
        "wechat": ("OpenCV WeChat (no models)", wechat_reader),
    }
    rows = [run(readers[key][0], readers[key][1](), cases) for key in only]
    path = frame_path(cases, budget, args.empty)

    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine(),
                    "photos": str(args.photos),
                    "results": [asdict(r) for r in rows],
                    "frame_path": asdict(path),
                }
            )
        )
        return 0
    roots = ", ".join(str(root) for root in args.photos)
    print(f"{len(cases)} images under {roots}; {machine()}")
    print(
        f"{'decoder':34} {'decoded':>9} {'rate':>7} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}"
        f" {'CPU med':>8} {'CPU p95':>8}"
    )
    for row in rows:
        print(
            f"{row.decoder:34} {row.found:>5}/{row.images:<3} {row.rate:>7.1%}"
            f" {row.median_ms:>10.2f} {row.p95_ms:>8.2f} {row.max_ms:>8.1f}"
            f" {row.cpu_median_ms:>8.2f} {row.cpu_p95_ms:>8.2f}"
        )
        if args.misses and row.misses:
            print("    missed: " + " ".join(row.misses))
    if args.by_folder:
        print_by_folder(cases, rows)
    print(
        f"frame path, {path.empty_frames} frames without a code: median {path.empty_median_ms:.2f}"
        f" ms, p95 {path.empty_p95_ms:.2f} ms, max {path.empty_max_ms:.1f} ms"
        f" ({path.empty_code_like} judged code-like); CPU time of the decoding thread: median"
        f" {path.empty_cpu_median_ms:.2f} ms, p95 {path.empty_cpu_p95_ms:.2f} ms (wall times"
        " grow with other load on the machine, CPU time does not)"
    )
    print(
        f"frame path, longest of {path.calls} calls: {path.max_call_ms:.1f} ms ="
        f" {path.max_over_budget:.2f}x the {budget:g} ms budget (CPU time: at most"
        f" {path.max_call_cpu_ms:.1f} ms);"
        f" photos with another answer on a repeat call: {path.photos_differing_on_repeat}"
    )
    if args.bent:
        print("synthetic cards (frame path, the gate's budget) vs plain zxing-cpp:")
        for case, frames, ours, plain in bent_rows(args.bent, budget):
            print(f"  {case:12} frame path {ours:>4}/{frames}   zxing-cpp {plain:>4}/{frames}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
