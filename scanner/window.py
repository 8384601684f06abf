"""Where the gate screens go: a full-screen Tk window, JSON lines, PNG files.

`TkDisplay` is the gate's window. It is Tk (Python's tkinter, Debian's ``libtk8.6``) rather
than OpenCV's ``imshow`` because the window is also the keyboard: the volunteer types the
temperature into it and a keyboard-wedge scanner types whole passes into it. Measured under
Xvfb with ``xdotool type`` (150 characters, 1-12 ms apart): OpenCV's Qt window (the
``opencv-contrib-python`` wheel) returned upper-case letters in lower case and dropped keys
(``waitKeyEx`` keeps one key per call; with 20 ms of work between calls it kept none), while
Tk delivered every key, in order and case, even with 200 ms of work between event pumps.
So the project keeps the headless OpenCV wheel everywhere (decoding only) and draws with Pillow.

`HeadlessDisplay` prints one JSON line per verdict (servers, tests); `ScreenshotDisplay`
wraps either and writes each screen shown as a PNG (support, tests).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final, Protocol, TextIO

import numpy as np
from PIL import Image

from scanner.display import Screen, render_screen
from scanner.inputs import Key

log = logging.getLogger(__name__)


class DisplayUnavailable(Exception):
    """This machine cannot show a window; the caller falls back to `HeadlessDisplay`."""


class Display(Protocol):
    """Where screens go. ``show`` never blocks for long; ``poll_key`` never blocks; ``wait``
    keeps the screen alive (window events) for up to ``seconds`` and returns early when a key
    arrives; ``closed`` is true once the operator closed the window; ``keyboard`` says whether
    anyone can type into it."""

    @property
    def closed(self) -> bool: ...

    @property
    def keyboard(self) -> bool: ...

    def show(self, screen: Screen) -> None: ...

    def poll_key(self) -> Key | None: ...

    def wait(self, seconds: float) -> None: ...

    def close(self) -> None: ...


class HeadlessDisplay:
    """Writes one JSON line per verdict screen shown (keys: kind, headline, reason, label,
    next_exit, temperature, online, banner); idle and prompt screens print nothing. No
    de-duplication: callers show each verdict once."""

    KEYS: Final = (
        "kind",
        "headline",
        "reason",
        "label",
        "next_exit",
        "temperature",
        "online",
        "banner",
    )

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self.closed = False
        self.keyboard = False

    def show(self, screen: Screen) -> None:
        """Print ``screen`` as one JSON line unless it is idle or a prompt."""
        if screen.kind in ("idle", "prompt"):
            return
        fields = asdict(screen)
        record = {key: fields[key] for key in self.KEYS}
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()

    def poll_key(self) -> Key | None:
        """No keyboard here: always None."""
        return None

    def wait(self, seconds: float) -> None:
        """Sleep (nothing to keep alive)."""
        time.sleep(max(seconds, 0.0))

    def close(self) -> None:
        """Flush the stream (it is not closed)."""
        self._stream.flush()


class ScreenshotDisplay:
    """Passes everything to ``inner`` and writes each new screen shown as a PNG in
    ``directory`` (``0001-idle.png``, ``0002-prompt.png``, ...), rendered at ``size``: what the
    volunteer saw, for support and for tests."""

    def __init__(self, inner: Display, directory: Path, size: tuple[int, int] = (1280, 720)):
        self._inner = inner
        self.directory = directory
        self._size = size
        self._count = 0
        self._last: Screen | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def closed(self) -> bool:
        """Whether the inner display was closed by the operator."""
        return self._inner.closed

    @property
    def keyboard(self) -> bool:
        """Whether the inner display has a keyboard."""
        return self._inner.keyboard

    def show(self, screen: Screen) -> None:
        """Show on the inner display; write the PNG when the screen changed."""
        self._inner.show(screen)
        if screen == self._last:
            return
        self._last = screen
        self._count += 1
        rgb = render_screen(screen, self._size)[:, :, ::-1]
        path = self.directory / f"{self._count:04d}-{screen.kind}.png"
        partial = path.with_suffix(".part")  # never a half-written PNG under its name
        Image.fromarray(np.ascontiguousarray(rgb)).save(partial, format="PNG")
        os.replace(partial, path)

    def poll_key(self) -> Key | None:
        """The inner display's next key."""
        return self._inner.poll_key()

    def wait(self, seconds: float) -> None:
        """The inner display's wait."""
        self._inner.wait(seconds)

    def close(self) -> None:
        """Close the inner display."""
        self._inner.close()


def open_display(
    *,
    headless: bool = False,
    size: tuple[int, int] | None = None,
    screenshot_dir: Path | None = None,
) -> Display:
    """A full-screen `scanner.window.TkDisplay`, or a `HeadlessDisplay` on stdout if asked or
    no window is possible (logged with the reason); wrapped in a `ScreenshotDisplay` when
    ``screenshot_dir`` is given."""
    display: Display | None = None
    if not headless:
        try:
            display = TkDisplay(size=size)
        except DisplayUnavailable as exc:
            log.warning("no window display, printing verdicts as JSON lines: %s", exc)
    if display is None:
        display = HeadlessDisplay()
    if screenshot_dir is not None:
        display = ScreenshotDisplay(display, screenshot_dir)
    return display


# Tk key symbols that mean something at the gate; other keys count by the character they type.
_TK_KEYS: Final[dict[str, str]] = {
    "Return": "enter", "KP_Enter": "enter", "Linefeed": "enter",
    "BackSpace": "backspace", "Escape": "escape",
    "Left": "left", "KP_Left": "left", "Right": "right", "KP_Right": "right",
    "Up": "up", "KP_Up": "up", "Down": "down", "KP_Down": "down", "Delete": "backspace",
}  # fmt: skip


def tk_key_name(keysym: str, char: str) -> str | None:
    """Name a Tk key event (see `Key`); None for modifiers and keys that type nothing."""
    if keysym in _TK_KEYS:
        return _TK_KEYS[keysym]
    if len(char) == 1 and char.isprintable():
        return char
    return None


class TkDisplay:
    """The gate's full-screen window (see the module docstring). Raises `DisplayUnavailable`
    at construction without a display server or without tkinter. ``size`` defaults to the
    whole screen."""

    def __init__(
        self,
        name: str = "Checkpoint",
        size: tuple[int, int] | None = None,
        *,
        fullscreen: bool = True,
    ) -> None:
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            raise DisplayUnavailable(
                "没有图形显示（DISPLAY 未设置） / No display server (DISPLAY unset)"
            )
        try:
            import tkinter
        except ImportError as exc:
            raise DisplayUnavailable(
                "此 Python 没有 tkinter（Debian：apt-get install python3-tk）"
                " / This Python has no tkinter (Debian: apt-get install python3-tk)"
            ) from exc
        try:
            root = tkinter.Tk(className="checkpoint")
        except tkinter.TclError as exc:
            raise DisplayUnavailable(f"无法打开窗口 / cannot open a window: {exc}") from exc
        self._tk = tkinter
        self._root = root
        root.title(name)
        width, height = size or (root.winfo_screenwidth(), root.winfo_screenheight())
        self.size = (width, height)
        root.geometry(f"{width}x{height}+0+0")  # covers the screen even without a window manager
        root.configure(background="black", cursor="none")
        if fullscreen:
            root.attributes("-fullscreen", True)
        self._label = tkinter.Label(root, borderwidth=0, highlightthickness=0, bg="black")
        self._label.pack(fill="both", expand=True)
        self._photo: Any = None  # Tk shows the image only while Python holds a reference
        self._keys: list[Key] = []
        self._last: Screen | None = None
        self.closed = False
        self.keyboard = True
        root.bind("<KeyPress>", self._on_key)
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.update()
        root.focus_force()

    def _on_key(self, event: Any) -> None:
        name = tk_key_name(str(event.keysym), str(event.char))
        if name is not None:
            self._keys.append(Key(name, int(event.time) / 1000.0))

    def _pump(self) -> None:
        if self.closed:
            return
        try:
            self._root.update()
        except self._tk.TclError:  # the window is gone
            self.closed = True

    def show(self, screen: Screen) -> None:
        """Draw ``screen`` (re-rendered only when it changed) and pump window events."""
        if screen != self._last and not self.closed:
            from PIL import ImageTk

            rgb = np.ascontiguousarray(render_screen(screen, self.size)[:, :, ::-1])
            self._photo = ImageTk.PhotoImage(Image.fromarray(rgb), master=self._root)
            self._label.configure(image=self._photo)
            self._last = screen
        self._pump()

    def poll_key(self) -> Key | None:
        """The oldest key typed since the last call, or None."""
        if not self._keys:
            self._pump()
        return self._keys.pop(0) if self._keys else None

    def wait(self, seconds: float) -> None:
        """Keep the window alive for up to ``seconds``; return early when a key arrives."""
        deadline = time.monotonic() + seconds
        while not self.closed:
            self._pump()
            remaining = deadline - time.monotonic()
            if self._keys or remaining <= 0:
                return
            time.sleep(min(remaining, 0.01))

    def close(self) -> None:
        """Close the window; idempotent."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(self._tk.TclError):
                self._root.destroy()
