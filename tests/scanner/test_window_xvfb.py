"""The scanner's window under Xvfb, started as the README says: the window opens full screen,
a card image then ``365`` typed into the window gives the green screen with 36.5, and a
keyboard-wedge scanner typing into the focused window is a scan.

Needs Debian's ``xvfb`` and ``xdotool`` (``bash deploy/dev.sh test`` installs them); skipped
with the reason otherwise. Screens are kept in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageGrab

from passes.qr import render_png
from scanner.cli import cli
from scanner.display import BACKGROUNDS
from scanner.journal import Journal
from tests.scanner.fakes import Community, ServerStub

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
    reason="needs Xvfb and xdotool (Debian xvfb, xdotool: bash deploy/dev.sh test installs them)",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SCANNER = [sys.executable, "-c", "from scanner.cli import main; main()"]


@pytest.fixture
def xdisplay() -> Iterator[str]:
    """A fresh Xvfb screen (1280x720); its name, e.g. ``:5``."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[tuple[ServerStub, Path]]:
    """A loopback gate-server stub and a scanner data directory enrolled with it."""
    stub = ServerStub(Community(now=datetime.now(UTC).replace(microsecond=0)))
    url, http = stub.serve()
    data = tmp_path / "scanner"
    result = CliRunner().invoke(
        cli, ["enroll", "--server", url, "--code", "GOOD-CODE", "--data-dir", str(data)]
    )
    assert result.exit_code == 0, result.output
    yield stub, data
    http.shutdown()
    http.server_close()


def _xdotool(display: str, *args: str) -> str:
    env = {**os.environ, "DISPLAY": display}
    done = subprocess.run(
        ["xdotool", *args], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def _until(what: str, check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _shots(directory: Path, kind: str) -> list[Path]:
    return sorted(directory.glob(f"*-{kind}.png"))


def _start(display: str, data: Path, shots: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DISPLAY": display}
    return subprocess.Popen(
        [*SCANNER, "run", *args, "--screenshot-dir", str(shots), "--data-dir", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _window(display: str) -> str:
    """The scanner's window id once it is mapped, focused for typing."""
    [window] = _xdotool(
        display, "search", "--sync", "--onlyvisible", "--name", "^Checkpoint$"
    ).split()
    _xdotool(display, "windowfocus", "--sync", window)
    return window


def _dominant_rgb(image: Image.Image) -> tuple[int, int, int]:
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    values, counts = np.unique(pixels, axis=0, return_counts=True)
    r, g, b = (int(v) for v in values[counts.argmax()])
    return r, g, b


def test_card_image_then_365_typed_in_the_window_shows_green_with_36_5(
    xdisplay: str, gate: tuple[ServerStub, Path], tmp_path: Path
) -> None:
    stub, data = gate
    card = tmp_path / "card.png"
    card.write_bytes(render_png(stub.community.passes[1]))
    shots = tmp_path / "shots"
    scanner = _start(
        xdisplay, data, shots,
        "--images", str(card), "--thermometer", "prompt", "--direction", "out", "--hold", "3",
    )  # fmt: skip
    try:
        _window(xdisplay)
        geometry = _xdotool(xdisplay, "getwindowgeometry", _window(xdisplay))
        assert "1280x720" in geometry  # the whole screen
        _until("the temperature prompt", lambda: bool(_shots(shots, "prompt")))
        _xdotool(xdisplay, "type", "--delay", "200", "365")  # a person, not a wedge
        _until("the verdict", lambda: bool(_shots(shots, "allow")))
        shown_at = time.monotonic()
        time.sleep(0.3)
        seen = ImageGrab.grab(xdisplay=xdisplay)  # what the X screen really shows
        assert scanner.wait(timeout=30) == 0
        assert time.monotonic() - shown_at >= 2.5  # --hold 3: the verdict stays, then it ends
    finally:
        if scanner.poll() is None:
            scanner.kill()
        output = scanner.communicate()[0]
    assert scanner.returncode == 0, output
    assert _dominant_rgb(seen) == BACKGROUNDS["allow"]
    typed = _shots(shots, "prompt")
    assert len(typed) >= 3  # empty prompt, then each key shown as typed
    [allow] = _shots(shots, "allow")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(allow, ARTIFACTS / "scanner-window-allow-36.5.png")
    shutil.copy(typed[-1], ARTIFACTS / "scanner-window-typing-temperature.png")
    seen.save(ARTIFACTS / "scanner-window-xvfb-screen.png")
    [scan] = stub.scans
    assert scan["temperature"] == 365
    with Journal(data / "journal.db") as journal:
        [row] = journal.rows()
    assert row.entry.temperature == 365
    assert row.entry.verdict["allowed"] is True


def test_a_wedge_scanner_typing_into_the_focused_window_is_decided(
    xdisplay: str, gate: tuple[ServerStub, Path], tmp_path: Path
) -> None:
    stub, data = gate
    shots = tmp_path / "shots"
    scanner = _start(
        xdisplay, data, shots, "--thermometer", "fixed:36.6", "--direction", "out"
    )  # no frame source: the window's keyboard is the wedge
    failed: AssertionError | None = None
    try:
        _window(xdisplay)
        _until("the idle screen", lambda: bool(_shots(shots, "idle")))
        _xdotool(xdisplay, "type", "--delay", "4", stub.community.passes[2] + "\n")
        _until("the verdict", lambda: bool(_shots(shots, "allow")))
    except AssertionError as exc:
        failed = exc
    finally:
        scanner.send_signal(signal.SIGTERM)
        output = scanner.communicate(timeout=30)[0]
    seen = sorted(p.name for p in shots.glob("*.png"))
    assert failed is None, f"{failed}; screens {seen}; scans {stub.scans}; output:\n{output}"
    assert "Traceback" not in output, output
    [scan] = stub.scans
    assert scan["pass"] == stub.community.passes[2]
    assert scan["temperature"] == 366
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(_shots(shots, "allow")[0], ARTIFACTS / "scanner-window-wedge-allow.png")


def test_a_fever_refusal_then_a_supervisor_card_and_key_2_is_an_override_offline(
    xdisplay: str, gate: tuple[ServerStub, Path], tmp_path: Path
) -> None:
    stub, data = gate
    card = stub.community.supervisor_card()
    stub.bundle_etag = '"b2"'  # the office issued a card: the next refresh carries it
    synced = CliRunner().invoke(cli, ["sync", "--data-dir", str(data)])
    assert synced.exit_code == 0, synced.output
    shots = tmp_path / "shots"
    scanner = _start(
        xdisplay, data, shots, "--offline", "--thermometer", "prompt", "--direction", "out"
    )
    failed: AssertionError | None = None
    try:
        _window(xdisplay)
        _until("the idle screen", lambda: bool(_shots(shots, "idle")))
        _xdotool(xdisplay, "type", "--delay", "4", stub.community.passes[3] + "\n")
        _until("the temperature prompt", lambda: bool(_shots(shots, "prompt")))
        _xdotool(xdisplay, "type", "--delay", "200", "381")  # fever
        _until("the refusal", lambda: bool(_shots(shots, "refuse")))
        _xdotool(xdisplay, "type", "--delay", "4", card + "\n")  # the supervisor's card
        _until("the reasons", lambda: _shots(shots, "prompt")[-1] > _shots(shots, "refuse")[0])
        _xdotool(xdisplay, "type", "--delay", "200", "2")
        _until("the override", lambda: bool(_shots(shots, "allow")))
    except AssertionError as exc:
        failed = exc
    finally:
        scanner.send_signal(signal.SIGTERM)
        output = scanner.communicate(timeout=30)[0]
    seen = sorted(p.name for p in shots.glob("*.png"))
    assert failed is None, f"{failed}; screens {seen}; output:\n{output}"
    with Journal(data / "journal.db") as journal:
        refused, override = (row.entry for row in journal.rows())
    assert refused.verdict["code"] == "fever"
    assert override.verdict["allowed"] is True
    assert override.override is not None
    assert (override.override.reason, override.override.card) == ("紧急情况", card)
    assert override.offline is True
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(_shots(shots, "refuse")[0], ARTIFACTS / "scanner-window-xvfb-fever-refused.png")
    shutil.copy(_shots(shots, "prompt")[-1], ARTIFACTS / "scanner-window-xvfb-override-reasons.png")
    shutil.copy(_shots(shots, "allow")[0], ARTIFACTS / "scanner-window-xvfb-override-allowed.png")
