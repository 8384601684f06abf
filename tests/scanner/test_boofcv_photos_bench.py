"""The BoofCV photo converter (bench/boofcv_photos.py) and the decoder bench's loading of
its output (bench/decoder.py): synthetic photos in BoofCV's layout, both label formats."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from decoding_synth import render_gray

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


boofcv = _load("boofcv_photos")
decoder_bench = _load("decoder")


def _photo_with(
    codes: list[tuple[str, int, int, int]],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A 900x1200 grey photo with each (text, left, top, module px) code drawn in it, and
    each code's corners (without its quiet zone, as BoofCV labels them)."""
    photo = np.full((900, 1200), 150, np.uint8)
    corners = []
    for text, left, top, module in codes:
        code = render_gray(text, module_px=module)
        side = code.shape[0]
        photo[top : top + side, left : left + side] = code
        quiet = 4 * module  # render_gray draws a 4-module quiet zone
        a, b = left + quiet, left + side - quiet
        c, d = top + quiet, top + side - quiet
        corners.append(np.array([[a, c], [b, c], [b, d], [a, d]], np.float64))
    return photo, corners


def test_converter_reads_both_label_formats_and_leaves_out_unreadable_photos(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw" / "nominal"
    raw.mkdir(parents=True)
    one, (quad,) = _photo_with([("ONE CODE", 100, 100, 6)])
    cv2.imwrite(str(raw / "image001.jpg"), one)
    lines = "\n".join(f"{x} {y}" for x, y in quad)
    (raw / "image001.txt").write_text(f"# list of hand selected 2D points\n{lines}\n")
    two, quads = _photo_with([("SMALL", 800, 550, 5), ("LARGER CODE TEXT", 100, 100, 9)])
    cv2.imwrite(str(raw / "image002.jpg"), two)
    sets = "\n".join(" ".join(f"{v}" for v in q.ravel()) for q in quads)
    (raw / "image002.txt").write_text(f"# list of hand selected 2D points\nSETS\n{sets}\n")
    cv2.imwrite(str(raw / "image003.jpg"), np.full((900, 1200), 150, np.uint8))
    (raw / "image003.txt").write_text(lines + "\n")
    out = tmp_path / "out"

    written, total, left_out = boofcv.convert(tmp_path / "raw", out)

    assert (written, total) == (2, 3)
    assert left_out == [str(raw / "image003.jpg")]
    assert (out / "nominal" / "001.txt").read_text() == "ONE CODE"
    assert not (out / "nominal" / "001.also.txt").exists()
    # The largest code is the expected one; the others may be read instead.
    assert (out / "nominal" / "002.txt").read_text() == "LARGER CODE TEXT"
    assert json.loads((out / "nominal" / "002.also.txt").read_text()) == ["SMALL"]

    cases = decoder_bench.load_cases(out)

    assert [case.path.name for case in cases] == ["001.jpg", "002.jpg"]
    assert cases[1].read_in(["SMALL"])
    assert not cases[0].read_in(["SMALL"])
    assert cases[0].image.shape == (900, 1200, 3)
