"""Adapters around the QR libraries: each turns a grayscale frame into a list of texts.

A backend never raises for a frame it cannot read: library errors (OpenCV refusing an
unsupported mode, a payload that is not UTF-8) count as "nothing found" so the pipeline
moves on to the next variant. A backend whose library cannot load is skipped with one
warning at construction, never a crash at the gate.

- ``zxing``: zxing-cpp, the primary. Restricted to QR and Micro QR (faster, and no false
  positives from 1D symbologies in background clutter). ``TextMode.Plain`` returns the
  payload as written, with control characters kept, so exact pass texts compare equal.
- ``wechat``: OpenCV contrib's WeChat detector. Constructed without its CNN model files
  (they are not shipped with the wheel); it then uses its built-in finder-pattern detector,
  which still reads codes zxing misses. Its Python binding raises on non-UTF-8 payloads.
- ``zbar``: pyzbar over the system ``libzbar``. Reads dark-on-light only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

import numpy as np

from scanner.decoding.crop import Quad
from scanner.decoding.preprocess import Gray

if TYPE_CHECKING:
    import zxingcpp

log = logging.getLogger(__name__)

_warned: set[str] = set()

BACKEND_NAMES = ("zxing", "wechat", "zbar")
"""Every backend this module knows, in the default order (primary first)."""


class Backend(Protocol):
    """Reads every QR code in a grayscale frame."""

    name: str
    reads_inverted: bool
    """True if the backend already finds white-on-black codes by itself."""

    def read(self, gray: Gray) -> list[str]: ...


class ZxingBackend:
    """zxing-cpp with one binarizer; ``local`` is zxing's default, ``histogram`` the global one."""

    reads_inverted = True

    def __init__(self, *, binarizer: str = "local") -> None:
        import zxingcpp

        self._zxing = zxingcpp
        self._formats = zxingcpp.BarcodeFormats(
            [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode]
        )
        self._binarizer = {
            "local": zxingcpp.Binarizer.LocalAverage,
            "histogram": zxingcpp.Binarizer.GlobalHistogram,
        }[binarizer]
        self.name = "zxing"

    def read(self, gray: Gray) -> list[str]:
        found = self._zxing.read_barcodes(
            gray,
            formats=self._formats,
            try_rotate=True,
            try_downscale=True,
            try_invert=True,
            text_mode=self._zxing.TextMode.Plain,
            binarizer=self._binarizer,
        )
        return [barcode.text for barcode in found if barcode.valid]

    def read_located(self, gray: Gray) -> tuple[list[str], list[Quad]]:
        """The texts read, and where codes were located that could not be read (a checksum
        or format error: damaged, blurred, glare): a QR code's four corners, in ``gray``'s
        pixels; an empty list when none was. Another symbology's failed candidate (or one
        without a usable position) counts as located with a zero quad: the frame is
        code-like, but there is no spot to look at again."""
        found = self._zxing.read_barcodes(
            gray,
            formats=self._formats,
            try_rotate=True,
            try_downscale=True,
            try_invert=True,
            text_mode=self._zxing.TextMode.Plain,
            binarizer=self._binarizer,
            return_errors=True,
        )
        texts = [barcode.text for barcode in found if barcode.valid]
        return texts, [self._quad(barcode) for barcode in found if not barcode.valid]

    def _quad(self, barcode: zxingcpp.Barcode) -> Quad:
        if barcode.format != self._zxing.BarcodeFormat.QRCode:
            return np.zeros((4, 2))
        position = barcode.position
        corners = (
            position.top_left,
            position.top_right,
            position.bottom_right,
            position.bottom_left,
        )
        return np.array([[point.x, point.y] for point in corners], dtype=np.float64)


class WeChatBackend:
    """OpenCV's WeChat QR reader, without CNN models (see the module docstring)."""

    name = "wechat"
    reads_inverted = False

    def __init__(self) -> None:
        import cv2

        self._cv2 = cv2
        self._reader = cv2.wechat_qrcode.WeChatQRCode()

    def read(self, gray: Gray) -> list[str]:
        try:
            texts, _points = self._reader.detectAndDecode(gray)
        except (self._cv2.error, UnicodeDecodeError):
            return []
        return [str(text) for text in texts if text]


class ZbarBackend:
    """pyzbar; ``libzbar`` converts the payload to UTF-8, we fall back to Latin-1."""

    name = "zbar"
    reads_inverted = False

    def __init__(self) -> None:
        from pyzbar import pyzbar

        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def read(self, gray: Gray) -> list[str]:
        try:
            found = self._pyzbar.decode(gray, symbols=self._symbols)
        except Exception:  # a C-level zbar failure on one frame must not stop the gate
            log.debug("zbar failed on a frame", exc_info=True)
            return []
        return [_bytes_to_text(symbol.data) for symbol in found if symbol.data]


def _bytes_to_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_backend(name: str) -> Backend | None:
    """The named backend, or ``None`` (with one warning) if its library cannot load.

    Raises ``ValueError`` for a name not in ``BACKEND_NAMES``: that is a configuration
    mistake, not a missing library.
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown QR backend {name!r}; choose from {', '.join(BACKEND_NAMES)}")
    try:
        if name == "zxing":
            return ZxingBackend()
        if name == "wechat":
            return WeChatBackend()
        return ZbarBackend()
    except (ImportError, OSError, AttributeError) as exc:
        # AttributeError: an OpenCV build without the contrib wechat_qrcode module.
        if name not in _warned:
            _warned.add(name)
            log.warning("QR backend %s unavailable, skipped: %s", name, exc)
        return None
