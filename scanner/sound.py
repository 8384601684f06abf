"""Verdict sounds: the only module that touches the speaker.

Each kind has a distinct sound a volunteer learns in a day: allow is a short high double beep,
refuse a long low tone, remeasure a falling two-tone pair twice, fault three low beeps. The WAV
bytes are generated here (``wave`` + ``math``, no files shipped) and played by ``paplay`` or
``aplay`` in a child process, so `Sounder.play` returns at once and never raises. Without a
player or an audio device the sounder is silent and says so in one log line.
"""

from __future__ import annotations

import glob
import io
import logging
import math
import os
import shutil
import struct
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Protocol

log = logging.getLogger(__name__)

SAMPLE_RATE: Final = 16_000
Tone = tuple[float, float]  # (frequency in Hz, 0 = silence; duration in seconds)

SOUNDS: Final[dict[str, tuple[Tone, ...]]] = {
    "allow": ((1760.0, 0.09), (0.0, 0.07), (1760.0, 0.09)),
    "refuse": ((330.0, 0.8),),
    "remeasure": ((880.0, 0.15), (660.0, 0.15), (0.0, 0.1), (880.0, 0.15), (660.0, 0.15)),
    "fault": ((220.0, 0.2), (0.0, 0.1), (220.0, 0.2), (0.0, 0.1), (220.0, 0.2)),
}


def tones_to_wav(tones: Sequence[Tone], *, rate: int = SAMPLE_RATE, volume: float = 0.6) -> bytes:
    """Mono 16-bit PCM WAV of the tones in sequence; 5 ms fades avoid clicks."""
    frames = bytearray()
    fade = int(rate * 0.005)
    for frequency, duration in tones:
        count = int(rate * duration)
        for i in range(count):
            envelope = min(1.0, i / fade, (count - 1 - i) / fade) if fade else 1.0
            sample = volume * envelope * math.sin(2 * math.pi * frequency * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


class Sounder(Protocol):
    """Plays the sound of a screen kind; unknown kinds (e.g. idle) are silent. Never raises."""

    def play(self, kind: str) -> None: ...

    def close(self) -> None: ...


class SilentSounder:
    """No sound (no player, no device, or tests)."""

    def play(self, kind: str) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Nothing to release."""


class CommandSounder:
    """Plays each kind's WAV with ``command + [wav_path]`` in a child process.

    A new sound stops the previous one (the newest verdict matters). If the command cannot be
    started, the sounder logs once and goes silent.
    """

    def __init__(self, command: Sequence[str]) -> None:
        self._command = list(command)
        self._dir = tempfile.TemporaryDirectory(prefix="checkpoint-sounds-")
        self._paths: dict[str, Path] = {}
        for kind, tones in SOUNDS.items():
            path = Path(self._dir.name) / f"{kind}.wav"
            path.write_bytes(tones_to_wav(tones))
            self._paths[kind] = path
        self._child: subprocess.Popen[bytes] | None = None
        self._disabled = False

    def play(self, kind: str) -> None:
        """Start the sound for ``kind`` and return at once."""
        path = self._paths.get(kind)
        if path is None or self._disabled:
            return
        self._stop_child()
        try:
            self._child = subprocess.Popen(  # noqa: S603 (fixed player command, our own file)
                [*self._command, str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            self._disabled = True
            log.warning("sound disabled: cannot run %s: %s", self._command[0], exc)

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def close(self) -> None:
        """Stop any sound and remove the WAV files; idempotent."""
        self._stop_child()
        self._dir.cleanup()


def _pulse_running() -> bool:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    return bool(os.environ.get("PULSE_SERVER")) or (
        bool(runtime) and Path(runtime, "pulse", "native").exists()
    )


def open_sounder() -> Sounder:
    """``paplay`` if a PulseAudio/PipeWire server runs, else ``aplay`` if ALSA has a playback
    device, else a `SilentSounder` (logged once)."""
    paplay = shutil.which("paplay")
    if paplay and _pulse_running():
        return CommandSounder([paplay])
    aplay = shutil.which("aplay")
    if aplay and glob.glob("/dev/snd/pcmC*D*p"):
        return CommandSounder([aplay, "-q"])
    log.warning("no audio player or device found (paplay/aplay); verdict sounds are off")
    return SilentSounder()
