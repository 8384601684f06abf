"""Convert BoofCV's QR benchmark photos (``qrcodes_v3``, 536 photos in 16 categories) to the
layout ``bench/decoder.py`` reads: ``<category>/N.jpg`` with ``N.txt`` the expected text.

BoofCV labels each photo with the corners of every code in it (``imageNNN.txt``: either four
lines of ``x y``, or ``SETS`` then one line of eight numbers per code), not with the texts.
The texts come from the labels: each labelled quad (grown by a quiet zone) is warped flat to
a square and read by zxing-cpp (two binarizers, also sharpened) and OpenCV's WeChat reader.
A text read there lies inside the quad by construction; Reed-Solomon makes a wrong text from
a flat crop very unlikely. Photos none of whose codes could be read this way are left out
(listed on stderr, counted in ``SUMMARY.txt``): no reader gets a known answer for them.

``N.txt`` is the text of the photo's largest readable code; ``N.also.txt`` (photos with more
than one code) holds the others, as a JSON list: the bench counts a photo as read when any of
its codes is read (a gate frame needs one).

Getting the photos: BoofCV publishes them as ``qrcodes_v3.zip`` (boofcv.org, regression
data, ``qrcodes/detection/<category>``); a copy is in the public repository
``rizwankce/RustQR`` under ``benches/images/boofcv`` (``git archive HEAD
benches/images/boofcv | tar -x --strip-components=3 -C /work/photos/boofcv-raw``). Then::

    .venv/bin/python bench/boofcv_photos.py /work/photos/boofcv-raw /work/photos/boofcv

Not committed: the photos' licence is BoofCV's, and they are 200 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

Quad = npt.NDArray[np.float64]
_SIDE_PX = 600
_QUIET = 0.12
"""Share of the code's side added around the quad on each side before warping."""


def quads(label: Path) -> list[Quad]:
    """The labelled codes' corners (4x2 each) from a BoofCV ``imageNNN.txt``."""
    rows = [line.split() for line in label.read_text().splitlines() if line and line[0] != "#"]
    if rows and rows[0] == ["SETS"]:
        return [np.array(row, dtype=np.float64).reshape(4, 2) for row in rows[1:] if row]
    numbers = [float(x) for row in rows for x in row]
    return [np.array(numbers[i : i + 8]).reshape(4, 2) for i in range(0, len(numbers) - 7, 8)]


def _flat(gray: npt.NDArray[np.uint8], quad: Quad) -> npt.NDArray[np.uint8]:
    centre = quad.mean(axis=0)
    grown = centre + (quad - centre) * (1 + 2 * _QUIET)
    target = np.array([[0, 0], [_SIDE_PX, 0], [_SIDE_PX, _SIDE_PX], [0, _SIDE_PX]], np.float32)
    matrix = cv2.getPerspectiveTransform(grown.astype(np.float32), target)
    return np.asarray(
        cv2.warpPerspective(gray, matrix, (_SIDE_PX, _SIDE_PX), flags=cv2.INTER_AREA), np.uint8
    )


def read_flat(flat: npt.NDArray[np.uint8]) -> list[str]:
    """Texts zxing-cpp or WeChat read from a flattened code (first reader that reads)."""
    sharp = cv2.addWeighted(flat, 1.8, cv2.GaussianBlur(flat, (0, 0), 2.0), -0.8, 0)
    formats = zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat.QRCode])
    for image in (flat, sharp, cv2.resize(flat, None, fx=0.5, fy=0.5)):
        for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
            found = zxingcpp.read_barcodes(
                image, formats=formats, binarizer=binarizer, text_mode=zxingcpp.TextMode.Plain
            )
            read = [code.text for code in found if code.valid and code.text]
            if read:
                return read
    try:
        texts, _ = cv2.wechat_qrcode.WeChatQRCode().detectAndDecode(flat)
    except (cv2.error, UnicodeDecodeError):
        return []
    return [str(text) for text in texts if text]


def convert(raw: Path, out: Path) -> tuple[int, int, list[str]]:
    """(photos written, photos in ``raw``, paths left out)."""
    written = total = 0
    left_out: list[str] = []
    for label in sorted(raw.glob("*/image*.txt")):
        photo = next(
            (p for p in (label.with_suffix(s) for s in (".jpg", ".png")) if p.exists()), None
        )
        if photo is None:
            continue
        total += 1
        gray = np.asarray(
            cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION), np.uint8
        )
        codes: list[tuple[float, str]] = []
        for quad in quads(label):
            area = float(cv2.contourArea(quad.astype(np.float32)))
            texts = read_flat(_flat(gray, quad))
            if len(texts) == 1:
                codes.append((area, texts[0]))
        if not codes:
            left_out.append(str(photo))
            continue
        codes.sort(key=lambda code: -code[0])
        texts = list(dict.fromkeys(text for _, text in codes))
        target = out / label.parent.name
        target.mkdir(parents=True, exist_ok=True)
        stem = label.stem.removeprefix("image")
        shutil.copyfile(photo, target / f"{stem}{photo.suffix}")
        (target / f"{stem}.txt").write_bytes(texts[0].encode("utf-8"))
        if len(texts) > 1:
            (target / f"{stem}.also.txt").write_text(json.dumps(texts[1:], ensure_ascii=False))
        written += 1
    return written, total, left_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="BoofCV's qrcodes/detection folder")
    parser.add_argument("out", type=Path, help="where to write <category>/N.jpg + N.txt")
    args = parser.parse_args(argv)
    written, total, left_out = convert(args.raw, args.out)
    for path in left_out:
        print(f"no code readable from its labelled corners: {path}", file=sys.stderr)
    summary = f"{written} of {total} photos written; {len(left_out)} left out (no readable code)"
    (args.out / "SUMMARY.txt").write_text(summary + "\n" + "\n".join(left_out) + "\n")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
