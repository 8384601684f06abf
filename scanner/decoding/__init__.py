"""QR decoding of gate camera frames: every pass text in a frame, within a time budget.

Example::

    from scanner.decoding import decode
    result = decode(frame)          # numpy uint8, gray or BGR
    for text in result.texts: ...

``Decoder`` keeps per-machine cost estimates between frames; a scan loop should hold one
(per thread) rather than calling ``decode`` with a fresh config each time.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from scanner.decoding.backends import BACKEND_NAMES
from scanner.decoding.decoder import DEFAULT_BUDGET_MS, Decoder, DecoderConfig, DecodeResult

__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_BUDGET_MS",
    "DecodeResult",
    "Decoder",
    "DecoderConfig",
    "decode",
]


@lru_cache(maxsize=8)
def _decoder_for(config: DecoderConfig) -> Decoder:
    return Decoder(config)


def decode(image: npt.NDArray[np.generic], config: DecoderConfig | None = None) -> DecodeResult:
    """Every QR text in ``image`` with ``config`` (default: all backends, 40 ms, fallbacks
    inline: for stills).

    Uses one cached ``Decoder`` per config in this process, so it is for a single thread.
    """
    return _decoder_for(config or DecoderConfig(fallbacks="inline")).decode(image)
