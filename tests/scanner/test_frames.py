"""Frame sources: images with repeat, a real video file, the wedge scanner, the CLI spec."""

from __future__ import annotations

import io
import itertools
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from scanner.frames import (
    CameraSource,
    Frame,
    FrameSourceError,
    ImageFilesSource,
    TypedCode,
    VideoFileSource,
    WedgeSource,
    parse_source_spec,
    to_bgr,
)


def _counter() -> itertools.count[float]:
    return itertools.count(100.0)


def _write_png(path: Path, value: int, size: tuple[int, int] = (48, 64)) -> Path:
    cv2.imwrite(str(path), np.full((*size, 3), value, np.uint8))
    return path


def test_images_source_yields_each_image_repeat_times_in_name_order(tmp_path: Path) -> None:
    _write_png(tmp_path / "b.png", 200)
    _write_png(tmp_path / "a.png", 100)
    (tmp_path / "notes.txt").write_text("not an image")
    clock = _counter()

    with ImageFilesSource(tmp_path, repeat=3, clock=lambda: next(clock)) as source:
        items = list(source)

    assert len(items) == 6
    assert all(isinstance(item, Frame) for item in items)
    frames = [item for item in items if isinstance(item, Frame)]
    assert [int(f.image[0, 0, 0]) for f in frames] == [100] * 3 + [200] * 3
    assert [f.at for f in frames] == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    assert all(f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3) for f in frames)


def test_images_source_gap_inserts_blank_frames_between_cards(tmp_path: Path) -> None:
    first = _write_png(tmp_path / "1.png", 0)
    second = _write_png(tmp_path / "2.png", 255)

    frames = list(ImageFilesSource([first, second], repeat=2, gap=1))

    values = [int(f.image[0, 0, 0]) for f in frames if isinstance(f, Frame)]
    assert values == [0, 0, 128, 255, 255, 128]


def test_unreadable_image_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = _write_png(tmp_path / "good.png", 50)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")

    with caplog.at_level(logging.WARNING, logger="scanner.frames"):
        frames = list(ImageFilesSource([broken, good]))

    assert len(frames) == 1
    assert "broken.png" in caplog.text


def test_missing_image_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError, match=r"找不到图片.*not found"):
        ImageFilesSource([tmp_path / "nope.png"])


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError, match="No images"):
        ImageFilesSource(tmp_path)


def test_grey_and_alpha_images_become_bgr() -> None:
    assert to_bgr(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert to_bgr(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)


def test_video_source_reads_every_frame_of_an_mjpg_avi(tmp_path: Path) -> None:
    path = tmp_path / "card.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for value in (0, 60, 120, 180, 240):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()

    with VideoFileSource(path) as source:
        frames = [item for item in source if isinstance(item, Frame)]

    assert len(frames) == 5
    assert frames[0].image.shape == (48, 64, 3)
    means = [float(f.image.mean()) for f in frames]
    assert means == sorted(means)  # frames come in order
    assert abs(means[-1] - 240) < 8  # lossy MJPG, but close


def test_video_source_loop_restarts_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (32, 32))
    for _ in range(2):
        writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.release()

    with VideoFileSource(path, loop=True) as source:
        frames = list(itertools.islice(source, 5))

    assert len(frames) == 5


def test_video_source_rejects_a_missing_or_bad_file(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError, match="not found"):
        VideoFileSource(tmp_path / "missing.avi")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(FrameSourceError, match="Cannot read video"):
        VideoFileSource(bad)


def test_camera_that_cannot_open_raises_a_bilingual_error() -> None:
    with pytest.raises(FrameSourceError, match=r"无法打开摄像头.*Cannot open camera"):
        CameraSource("/dev/definitely-not-a-camera")


def test_wedge_source_yields_one_typed_code_per_line() -> None:
    stream = io.StringIO("CP1:ABC 123\r\n\n   \nCP1:\x1bDEF\n" + "X" * 5000 + "\nlast")
    clock = _counter()

    items = list(WedgeSource(stream, clock=lambda: next(clock)))

    assert items == [
        TypedCode("CP1:ABC 123", 100.0),
        TypedCode("CP1:DEF", 101.0),
        TypedCode("last", 102.0),
    ]


def test_wedge_source_does_not_close_a_stream_it_did_not_open() -> None:
    stream = io.StringIO("A\n")
    with WedgeSource(stream) as source:
        list(source)
    assert not stream.closed


def test_wedge_source_opens_a_device_file(tmp_path: Path) -> None:
    device = tmp_path / "ttyACM0"
    device.write_text("CODE1\nCODE2\n", encoding="utf-8")

    with WedgeSource.open(str(device)) as source:
        texts = [item.text for item in source if isinstance(item, TypedCode)]

    assert texts == ["CODE1", "CODE2"]
    with pytest.raises(FrameSourceError, match="wedge"):
        WedgeSource.open(str(tmp_path / "missing"))


def test_parse_source_spec_takes_one_frame_source_and_maybe_a_wedge(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError, match="Choose one source"):
        parse_source_spec()
    with pytest.raises(FrameSourceError, match="--camera, --video"):
        parse_source_spec(camera=0, video="x.avi")
    both = parse_source_spec(camera=0, wedge="/dev/ttyACM0")
    assert (both.camera, both.wedge) == (0, "/dev/ttyACM0")
    window_only = parse_source_spec(allow_none=True)  # the window's keyboard is the wedge
    assert window_only.open_each() == []


def test_parse_source_spec_opens_the_chosen_source(tmp_path: Path) -> None:
    image = _write_png(tmp_path / "card.png", 10)

    spec = parse_source_spec(images=[str(image)], repeat=4)
    with spec.open() as source:
        assert len(list(source)) == 4

    assert parse_source_spec(camera="2").camera == 2
    assert parse_source_spec(camera=0).camera == 0
    assert parse_source_spec(wedge="-").wedge == "-"
    with pytest.raises(FrameSourceError, match="repeat"):
        parse_source_spec(images=[str(image)], repeat=0)


class FakeCapture:
    """Stands in for cv2.VideoCapture: two grey frames, then nothing (the cable is pulled)."""

    def __init__(self, index: int | str) -> None:
        self.frames = [np.full((48, 64), 7, np.uint8), np.full((48, 64), 9, np.uint8)]
        self.released = False
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        return (True, self.frames.pop(0)) if self.frames else (False, None)

    def release(self) -> None:
        self.released = True


def test_camera_frames_are_bgr_and_a_stalled_camera_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scanner.frames.cv2.VideoCapture", FakeCapture)
    monkeypatch.setattr("scanner.frames.CAMERA_STALL_S", 0.1)

    camera = CameraSource(0, width=320, height=240)
    frames: list[Frame] = []
    with pytest.raises(FrameSourceError, match="stopped delivering frames"), camera:
        frames.extend(item for item in camera if isinstance(item, Frame))

    assert [f.image.shape for f in frames] == [(48, 64, 3), (48, 64, 3)]
    capture = camera._capture
    assert isinstance(capture, FakeCapture)
    assert capture.released
    assert capture.props[cv2.CAP_PROP_FRAME_WIDTH] == 320
