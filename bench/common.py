"""Shared helpers for the benches: the machine, percentiles, a seeded compound on SQLite behind a
real ``checkpoint serve``, and realistic 640x480 gate-camera frames holding a rendered pass.

Not a bench itself. Benches run as scripts (``python bench/x.py``), so they import this module
as ``common`` (the script's folder is first on ``sys.path``).
"""

from __future__ import annotations

import math
import os
import platform
import random
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import httpx
import numpy as np
import numpy.typing as npt

BIN = Path(sys.executable).parent
"""Where the venv's console scripts (``checkpoint``, ``checkpoint-scanner``) live."""

FRAME_W, FRAME_H = 640, 480
Image = npt.NDArray[np.uint8]


# --- the machine --------------------------------------------------------------------------------


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo (or the platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mem_total_mib() -> float | None:
    """Physical memory from /proc/meminfo, MiB."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def fs_type(path: Path) -> str:
    """The file system type under ``path`` (from /proc/mounts; fsync cost depends on it)."""
    best, kind = "", "unknown"
    target = str(path.resolve())
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) >= 3 and target.startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_mib": mem_total_mib(),
        "load_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()}",
    }


def machine_line(info: dict[str, Any]) -> str:
    """One line for text output."""
    mem = info.get("mem_total_mib")
    mem_text = f", {mem / 1024:.0f} GiB" if mem else ""
    load = f"load {info['load_1min']:.2f}"
    if info.get("load_1min_after") is not None:
        load = f"load {info['load_1min']:.2f} before, {info['load_1min_after']:.2f} after"
    return (
        f"{info['cpu_model']}, nproc {info['nproc']}{mem_text}, {load};"
        f" Python {info['python']}, {info['platform']}"
    )


# --- statistics ---------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(samples_ms: Sequence[float]) -> dict[str, float]:
    """n, median, p95, p99, max and mean of millisecond samples (nearest rank)."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0, "median": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan}
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {
        "n": len(ordered),
        "median": median,
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


# --- a compound behind a real server ------------------------------------------------------------


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Compound:
    """A seeded gate database: pass texts of households free to go out, and an enrolment code."""

    env: dict[str, str]
    database_url: str
    texts: list[str]
    enrolment_code: str
    households: int


def build_compound(root: Path, *, free_households: int, now: datetime) -> Compound:
    """Migrate a new SQLite database under ``root`` and seed it with ``gate.demo.build_demo``.

    The demo's address scheme holds at most a few hundred households, about half of them out
    or used today, so when more free households are needed they are registered after the demo
    (one building each in turn) and issued passes with ``gate.issuing.operations.issue_pass``,
    as the office would. Returns the printed pass texts of ``free_households`` households that
    are normal and have no exit yet (each scan of one is a real first crossing).
    """
    from sqlalchemy import select

    from gate.community.models import Building
    from gate.db import make_engine, session_factory, transaction
    from gate.demo import build_demo
    from gate.households.decision_state import household_state
    from gate.households.models import Household
    from gate.issuing.operations import current_pass, issue_pass, pass_text
    from gate.migrations import upgrade

    instance = root / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{instance / 'gate.sqlite3'}"
    env = {**os.environ, "CHECKPOINT_INSTANCE_DIR": str(instance), "CHECKPOINT_DATABASE_URL": url}
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            summary = build_demo(session, keys_dir=instance / "keys", now=now, days=0)
        with transaction(sessions) as session:
            rows = session.scalars(select(Household).order_by(Household.id)).all()
            free = [
                row
                for row in rows
                if row.status.value == "normal" and not household_state(row).exits
            ]
            missing = max(free_households - len(free), 0)
            if missing:
                buildings = session.scalars(select(Building).order_by(Building.id)).all()
                used = {row.id for row in rows}
                rng = random.Random(7)  # opaque bench ids, not secrets
                for index in range(missing + 10):
                    household_id = rng.randrange(10_000, 2**31)
                    while household_id in used:
                        household_id = rng.randrange(10_000, 2**31)
                    used.add(household_id)
                    building = buildings[index % len(buildings)]
                    extra = Household(
                        id=household_id,
                        community_id=summary.community_id,
                        building_id=building.id,
                        code=f"{building.code}-9-{index:04d}",
                        unit="9",
                        room=f"{index:04d}",
                    )
                    session.add(extra)
                    session.flush()
                    issue_pass(session, extra, actor="bench", now=now - timedelta(days=1))
                    free.append(extra)
            texts = [
                pass_text(session, record)
                for row in free[:free_households]
                if (record := current_pass(session, row)) is not None
            ]
            total = len(rows) + (missing + 10 if missing else 0)
    finally:
        engine.dispose()
    if len(texts) < free_households:
        raise RuntimeError(f"only {len(texts)} free households, {free_households} needed")
    return Compound(env, url, texts, summary.enrolment_code, total)


class GateServer:
    """``checkpoint serve`` on a loopback port as a child process (a context manager)."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.env, self.log = env, log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start it and wait until the scanner API answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "checkpoint"), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                httpx.get(f"{self.url}/api/v1/bundle", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Terminate it (idempotent)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def __enter__(self) -> GateServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --- gate-camera frames -------------------------------------------------------------------------


def _pass_gray(text: str) -> Image:
    from passes import render_png

    png = render_png(text, module_px=6)
    decoded = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if decoded is None:
        raise RuntimeError("render_png gave an unreadable PNG")
    return np.asarray(decoded, dtype=np.uint8)


def _background(rng: np.random.Generator) -> Image:
    """A 640x480 BGR scene: a gradient wall with a few shapes (gate, sign, sleeve)."""
    base = int(rng.integers(70, 170))
    ramp = np.linspace(-25, 25, FRAME_W, dtype=np.float32)[None, :, None]
    lit = np.clip(np.full((FRAME_H, FRAME_W, 3), base, np.float32) + ramp, 0, 255)
    frame: Image = lit.astype(np.uint8)
    for _ in range(8):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x1, x2 = sorted(int(v) for v in rng.integers(0, FRAME_W, size=2))
        y1, y2 = sorted(int(v) for v in rng.integers(0, FRAME_H, size=2))
        if rng.random() < 0.6:
            cv2.rectangle(frame, (x1, y1), (x2, y2), colour, -1)
        else:
            cv2.line(frame, (x1, y1), (x2, y2), colour, int(rng.integers(2, 8)))
    return frame


def gate_jpeg(text: str, seed: int) -> bytes:
    """A 640x480 camera frame (JPEG bytes) holding the printed pass for ``text``.

    The card (QR 200-300 px across, as at 30-50 cm from a 640x480 camera) is tilted by up to
    20 degrees, seen in perspective (one edge up to 15 % shorter), slightly lit unevenly, then
    the frame gets sensor noise, a little defocus blur and MJPEG-like compression (quality 80).
    """
    rng = np.random.default_rng(seed)
    code = _pass_gray(text)
    h, w = code.shape
    side = float(rng.uniform(200, 300))
    half, squeeze = side / 2, float(rng.uniform(0.0, 0.15)) * side / 2
    corners = np.array(
        [[-half + squeeze, -half], [half - squeeze, -half], [half, half], [-half, half]]
    )
    if rng.random() < 0.5:  # the near edge is the top or the bottom one
        corners[:, 1] *= -1
    theta = np.deg2rad(rng.uniform(-20, 20))
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    corners = corners @ rotation.T
    reach = np.abs(corners).max(axis=0) + 4
    centre = (
        rng.uniform(reach[0], FRAME_W - reach[0]),
        rng.uniform(reach[1], FRAME_H - reach[1]),
    )
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, (corners + centre).astype(np.float32))
    card = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR).astype(np.float32)
    card *= np.float32(rng.uniform(0.75, 1.0))  # paper under gate lighting is not white
    warped = cv2.warpPerspective(card, matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(
        np.ones((h, w), np.float32), matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR
    )[..., None]
    scene = _background(rng).astype(np.float32)
    composed = np.asarray(warped * mask + scene * (1 - mask), dtype=np.float32)
    shade = np.linspace(1.0, rng.uniform(0.8, 1.0), FRAME_H, dtype=np.float32)[:, None, None]
    lit = composed * shade + rng.normal(0, 6.0, composed.shape).astype(np.float32)
    blurred = cv2.GaussianBlur(np.clip(lit, 0, 255).astype(np.uint8), (0, 0), 0.7)
    ok, jpeg = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return jpeg.tobytes()


def gate_frame(text: str, seed: int) -> Image:
    """:func:`gate_jpeg` decoded: the BGR array a camera driver hands the scanner."""
    data = np.frombuffer(gate_jpeg(text, seed), dtype=np.uint8)
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), dtype=np.uint8)


def write_frames(directory: Path, texts: Sequence[str], *, seed: int = 0) -> list[Path]:
    """One ``gate_frame`` per text as ``frame-NNNN.jpg`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, text in enumerate(texts):
        path = directory / f"frame-{index:04d}.jpg"
        path.write_bytes(gate_jpeg(text, seed + index))
        paths.append(path)
    return paths
