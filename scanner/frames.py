"""Frame sources: the only module that reads a camera, a video, image files or a wedge scanner.

A source is an iterable of `Captured` items and a context manager. An item is either a `Frame`
(a BGR ``uint8`` image of shape ``(height, width, 3)``) or a `TypedCode` (text typed by a
keyboard-wedge hardware scanner, which decodes the QR itself). Both carry ``at``: the injected
clock's reading (``time.monotonic`` by default, seconds) when the item was captured. The scan loop
matches on the type::

    for item in source:
        match item:
            case Frame(image=image): ...
            case TypedCode(text=text): ...

Several sources run at once (a camera and a serial wedge) through `scanner.inputs.MergedSource`;
a wedge scanner typing into the gate's window arrives as keys (`scanner.inputs.KeyRouter`).

Errors an operator can fix (no camera, missing file) raise `FrameSourceError` with a message in
Chinese and English.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, TextIO

import cv2
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from scanner.inputs import MergedSource

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Clock = Callable[[], float]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
MAX_TYPED_CODE_CHARS = 2048  # a v1 pass is a few hundred characters; longer lines are noise
CAMERA_STALL_S = 2.0  # no frame for this long: the camera counts as unplugged


class FrameSourceError(Exception):
    """A source cannot be opened or has stopped; the message says what to do (zh / en)."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One camera image: BGR, ``uint8``, shape ``(h, w, 3)``; ``at`` is the clock reading."""

    image: Image
    at: float


@dataclass(frozen=True)
class TypedCode:
    """A code typed by a keyboard-wedge scanner (one line, stripped, non-empty)."""

    text: str
    at: float


Captured = Frame | TypedCode


class FrameSource(Protocol):
    """Iterable of `Captured` items; iteration ends when the source is exhausted or closed."""

    def __iter__(self) -> Iterator[Captured]: ...

    def close(self) -> None:
        """Release the device or file; idempotent."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class _Closing:
    """Context-manager plumbing shared by the sources."""

    def close(self) -> None:
        """Release resources; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def to_bgr(image: npt.NDArray[np.generic]) -> Image:
    """Return ``image`` as a 3-channel BGR ``uint8`` array (grey and BGRA are converted)."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        if array.dtype == np.uint16:
            array = (array >> 8).astype(np.uint8)
        else:
            array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    elif array.ndim == 3 and array.shape[2] == 1:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(array, dtype=np.uint8)


class CameraSource(_Closing):
    """Live frames from a camera (``index`` as for ``cv2.VideoCapture``, or a device path).

    Raises `FrameSourceError` at construction if the camera cannot be opened, and during
    iteration if it stops delivering frames (e.g. unplugged). ``width``/``height`` are requests;
    the driver may deliver another size.
    """

    def __init__(
        self,
        index: int | str,
        width: int = 640,
        height: int = 480,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.index = index
        self._clock = clock
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            self._capture.release()
            raise FrameSourceError(
                f"无法打开摄像头 {index}：请检查摄像头是否插好、是否被其他程序占用。"
                f" / Cannot open camera {index}: check that it is plugged in and not in use"
                " by another program."
            )
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # A one-frame driver queue keeps the decoded frame close to "now" (less lag at the gate).
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._closed = False

    def __iter__(self) -> Iterator[Captured]:
        last_frame = time.monotonic()
        while not self._closed:
            ok, image = self._capture.read()
            if ok and image is not None:
                last_frame = time.monotonic()
                yield Frame(to_bgr(image), self._clock())
            elif time.monotonic() - last_frame > CAMERA_STALL_S:
                raise FrameSourceError(
                    f"摄像头 {self.index} 没有画面：请检查连接线。"
                    f" / Camera {self.index} stopped delivering frames: check the cable."
                )
            else:
                time.sleep(0.02)  # a driver hiccup: do not spin

    def close(self) -> None:
        """Release the camera; idempotent."""
        self._closed = True
        self._capture.release()


class VideoFileSource(_Closing):
    """Frames of a video file, in order, as fast as they decode; ``loop`` restarts at the end."""

    def __init__(self, path: str | Path, *, loop: bool = False, clock: Clock = time.monotonic):
        self.path = Path(path)
        self._loop = loop
        self._clock = clock
        if not self.path.is_file():
            raise FrameSourceError(
                f"找不到视频文件 {self.path} / Video file not found: {self.path}"
            )
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            self._capture.release()
            raise FrameSourceError(
                f"无法读取视频 {self.path}（格式不支持？） / Cannot read video {self.path}"
                " (unsupported format?)"
            )
        self._closed = False

    def __iter__(self) -> Iterator[Captured]:
        delivered = 0
        while not self._closed:
            ok, image = self._capture.read()
            if ok and image is not None:
                delivered += 1
                yield Frame(to_bgr(image), self._clock())
            elif self._loop and delivered:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                delivered = 0
            else:
                return

    def close(self) -> None:
        """Release the file; idempotent."""
        self._closed = True
        self._capture.release()


def _image_paths(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found.extend(p for p in sorted(item.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES)
        elif item.is_file():
            found.append(item)
        else:
            raise FrameSourceError(f"找不到图片 {item} / Image path not found: {item}")
    if not found:
        raise FrameSourceError(
            f"没有可用的图片：{', '.join(map(str, items))} / No images found in: "
            + ", ".join(map(str, items))
        )
    return found


class ImageFilesSource(_Closing):
    """Frames from image files: a folder (sorted by name, image suffixes only) or a list of files.

    Each image yields ``repeat`` frames (a card held in front of the camera for that many
    frames), followed by ``gap`` blank grey frames of the same size (the card taken away).
    A missing path or an empty selection raises `FrameSourceError` at construction; a file that
    exists but does not decode is skipped with a logged warning.
    """

    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        *,
        repeat: int = 1,
        gap: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        if repeat < 1 or gap < 0:
            raise ValueError("repeat must be >= 1 and gap >= 0")
        self.paths = _image_paths(paths)
        self._repeat = repeat
        self._gap = gap
        self._clock = clock
        self._closed = False

    def __iter__(self) -> Iterator[Captured]:
        for path in self.paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("skipping unreadable image %s", path)
                continue
            bgr = to_bgr(image)
            for _ in range(self._repeat):
                if self._closed:
                    return
                yield Frame(bgr, self._clock())
            blank = np.full_like(bgr, 128)
            for _ in range(self._gap):
                if self._closed:
                    return
                yield Frame(blank, self._clock())

    def close(self) -> None:
        """Stop iteration; idempotent."""
        self._closed = True


class WedgeSource(_Closing):
    """Codes from a keyboard-wedge (or serial text) scanner: one `TypedCode` per line.

    Lines are stripped of whitespace and control characters; empty lines are ignored, lines
    longer than `MAX_TYPED_CODE_CHARS` are dropped with a warning. Iteration ends at end of
    stream. The stream is closed by `close` only if ``owns_stream`` is true.
    """

    def __init__(
        self, stream: TextIO, *, owns_stream: bool = False, clock: Clock = time.monotonic
    ) -> None:
        self._stream = stream
        self._owns_stream = owns_stream
        self._clock = clock
        self._closed = False

    @classmethod
    def open(cls, device: str | None, *, clock: Clock = time.monotonic) -> WedgeSource:
        """Read standard input when ``device`` is None or ``"-"``, else the named device file."""
        if device in (None, "-"):
            return cls(sys.stdin, clock=clock)
        try:
            stream = open(device, encoding="utf-8", errors="replace")  # noqa: SIM115 (owned)
        except OSError as exc:
            raise FrameSourceError(
                f"无法打开扫码枪 {device}：{exc.strerror} / Cannot open wedge scanner {device}:"
                f" {exc.strerror}"
            ) from exc
        return cls(stream, owns_stream=True, clock=clock)

    def __iter__(self) -> Iterator[Captured]:
        while not self._closed:
            line = self._stream.readline()
            if not line:
                return
            text = "".join(ch for ch in line if ch.isprintable()).strip()
            if not text:
                continue
            if len(text) > MAX_TYPED_CODE_CHARS:
                log.warning("dropping a typed line of %d characters", len(text))
                continue
            yield TypedCode(text, self._clock())

    def close(self) -> None:
        """Stop iteration; closes the stream if this source opened it."""
        self._closed = True
        if self._owns_stream:
            self._stream.close()


@dataclass(frozen=True)
class SourceSpec:
    """Which sources the operator chose on the command line: at most one of camera, video and
    images, and optionally a wedge scanner beside it."""

    camera: int | str | None = None
    video: Path | None = None
    images: tuple[Path, ...] = field(default_factory=tuple)
    wedge: str | None = None
    repeat: int = 1

    @property
    def finite(self) -> bool:
        """Whether the source ends by itself (a video or image files)."""
        return self.video is not None or bool(self.images)

    def open_each(self, *, clock: Clock = time.monotonic) -> list[FrameSource]:
        """Open every chosen source (none: the window's keyboard is the only one)."""
        opened: list[FrameSource] = []
        try:
            if self.camera is not None:
                opened.append(CameraSource(self.camera, clock=clock))
            if self.video is not None:
                opened.append(VideoFileSource(self.video, clock=clock))
            if self.images:
                opened.append(ImageFilesSource(self.images, repeat=self.repeat, clock=clock))
            if self.wedge is not None:
                opened.append(WedgeSource.open(self.wedge, clock=clock))
        except FrameSourceError:
            for source in opened:
                source.close()
            raise
        return opened

    def open(
        self, *, clock: Clock = time.monotonic, ticking: bool = False
    ) -> FrameSource | MergedSource:
        """Open the chosen sources, merged when there are several or ``ticking`` is asked
        (the loop then also gets ``None`` when nothing arrives: see `MergedSource`). Raises
        `FrameSourceError` if one cannot be opened."""
        from scanner.inputs import MergedSource

        sources = self.open_each(clock=clock)
        if len(sources) == 1 and not ticking:
            return sources[0]
        return MergedSource(sources)


def parse_source_spec(
    *,
    camera: int | str | None = None,
    video: str | Path | None = None,
    images: Sequence[str | Path] | None = None,
    wedge: str | None = None,
    repeat: int = 1,
    allow_none: bool = False,
) -> SourceSpec:
    """Validate ``--camera N | --video FILE | --images PATH...`` plus an optional
    ``--wedge [DEV]`` (``"-"``: standard input).

    At most one of the first three; at least one source in all unless ``allow_none`` (a
    window whose keyboard is the wedge). A camera given as a digit string becomes an index.
    Raises `FrameSourceError` otherwise. Opens nothing.
    """
    chosen = [
        name
        for name, value in (("--camera", camera), ("--video", video), ("--images", images))
        if value not in (None, (), [])
    ]
    if len(chosen) > 1 or (not chosen and wedge is None and not allow_none):
        given = "、".join(chosen) if chosen else "无 / none"
        raise FrameSourceError(
            "请选一个画面来源 --camera / --video / --images（可另加 --wedge）（现在："
            + given
            + "）"
            " / Choose one source: --camera, --video or --images (plus --wedge if wanted)"
            f" (given: {', '.join(chosen) or 'none'})"
        )
    if repeat < 1:
        raise FrameSourceError("--repeat 必须 ≥ 1 / --repeat must be at least 1")
    if isinstance(camera, str) and camera.isdigit():
        camera = int(camera)
    return SourceSpec(
        camera=camera,
        video=Path(video) if video is not None else None,
        images=tuple(Path(p) for p in images or ()),
        wedge=wedge,
        repeat=repeat,
    )
