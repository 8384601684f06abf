"""``checkpoint-scanner decode IMAGE... [--json]``: what the gate's decoder reads in image files.

For checking a printed card or a phone screenshot without the camera, and for support
("the gate will not read my pass"): one line per image, in the order given. A missing or
unreadable file gets an error line and the run goes on; the exit code is 1 if any file
could not be read, else 0 (finding no code is a result, not an error).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

import click
import numpy as np

from scanner.decoding import BACKEND_NAMES, DEFAULT_BUDGET_MS, Decoder, DecoderConfig, DecodeResult
from scanner.decoding.preprocess import Gray


class ImageReadError(Exception):
    """An image file that cannot be turned into pixels; the message is for the user."""


def read_image(path: str) -> Gray:
    """The file at ``path`` as an 8-bit gray image (any format OpenCV reads)."""
    import cv2

    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageReadError("file not found") from None
    except IsADirectoryError:
        raise ImageReadError("is a directory, not an image file") from None
    except PermissionError:
        raise ImageReadError("permission denied") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc.strerror or exc}") from None
    image = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE) if raw.size else None
    if image is None:
        raise ImageReadError("not an image OpenCV can read (expected PNG, JPEG, BMP, ...)")
    return np.asarray(image, dtype=np.uint8)


def run_decode(
    paths: Sequence[str], *, as_json: bool, out: TextIO, config: DecoderConfig | None = None
) -> int:
    """Decode each image in ``paths`` and write one line per image to ``out``.

    With ``as_json`` each line is a JSON object: ``image`` (the path as given), ``texts``
    (list), ``backend``, ``variant``, ``ms``, ``exhausted``; or ``image``, ``texts`` (empty)
    and ``error`` (a human message) when the file cannot be read. Returns the exit code:
    1 if any file could not be read, else 0.
    """
    decoder = Decoder(config or DecoderConfig(fallbacks="inline"))  # stills: no frame path
    exit_code = 0
    for path in paths:
        try:
            image = read_image(path)
        except ImageReadError as exc:
            exit_code = 1
            out.write(_error_line(path, str(exc), as_json=as_json) + "\n")
            continue
        result = decoder.decode(image)
        out.write((_json_line(path, result) if as_json else _human_line(path, result)) + "\n")
    out.flush()
    return exit_code


def _json_line(path: str, result: DecodeResult) -> str:
    return json.dumps(
        {
            "image": path,
            "texts": list(result.texts),
            "backend": result.backend,
            "variant": result.variant,
            "ms": round(result.ms, 2),
            "exhausted": result.exhausted,
        }
    )


def _human_line(path: str, result: DecodeResult) -> str:
    if not result.texts:
        why = (
            f"budget spent after {result.ms:.1f} ms" if result.exhausted else f"{result.ms:.1f} ms"
        )
        return f"{path}: no QR code found ({why})"
    # json.dumps quotes each text and escapes newlines and control characters in it.
    texts = ", ".join(json.dumps(text, ensure_ascii=False) for text in result.texts)
    return f"{path}: {texts} ({result.backend}, {result.variant}, {result.ms:.1f} ms)"


def _error_line(path: str, message: str, *, as_json: bool) -> str:
    if as_json:
        return json.dumps({"image": path, "texts": [], "error": message})
    return f"{path}: error: {message}"


def _parse_backends(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    try:
        DecoderConfig(backends=names)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return names


@click.command(
    "decode",
    help=(
        "Decode the QR codes in image files, as the gate camera would, and print one line "
        "per image: the texts found, the backend that read them and the time taken.\n\n"
        "Exit code 1 if any file could not be read; finding no code is not an error.\n\n"
        "\b\nExamples:\n"
        "  checkpoint-scanner decode card.png\n"
        "  checkpoint-scanner decode photos/*.jpg --json --budget-ms 1000\n"
        "  checkpoint-scanner decode screen.png --backends zxing,zbar"
    ),
)
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--backends",
    default=",".join(BACKEND_NAMES),
    show_default=True,
    callback=_parse_backends,
    help="Comma-separated QR backends to try, in order; the first is the primary.",
)
@click.option(
    "--budget-ms",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_BUDGET_MS,
    show_default=True,
    help="Time allowed per image before it is abandoned, as at the gate; raise it to try harder.",
)
def decode_command(
    images: tuple[str, ...], as_json: bool, backends: tuple[str, ...], budget_ms: float
) -> None:
    config = DecoderConfig(backends=backends, budget_ms=budget_ms, fallbacks="inline")
    code = run_decode(images, as_json=as_json, out=sys.stdout, config=config)
    sys.exit(code)
