"""Base45 (RFC 9285): binary data as QR alphanumeric-mode characters.

Every two bytes become three characters from a 45-symbol alphabet that QR codes
store in 5.5 bits per character, so a signed binary pass costs far fewer modules
than Base64 in byte mode would.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """The text is not canonical Base45."""


def b45encode(data: bytes) -> str:
    """Encode bytes; the result uses only :data:`ALPHABET`."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.extend((ALPHABET[c], ALPHABET[d], ALPHABET[e]))
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.extend((ALPHABET[c], ALPHABET[d]))
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode canonical Base45.

    Raises :class:`Base45Error` for a character outside the alphabet, a length of
    3k+1, or a group whose value does not fit its bytes (non-canonical input is
    refused rather than silently truncated, so one pass has one text).
    """
    if len(text) % 3 == 1:
        raise Base45Error("length is 3k+1")
    try:
        values = [_VALUE[symbol] for symbol in text]
    except KeyError as exc:
        raise Base45Error(f"character {exc.args[0]!r} is not Base45") from None
    out = bytearray()
    whole = len(values) - len(values) % 3
    for i in range(0, whole, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if n > 0xFFFF:
            raise Base45Error("group exceeds two bytes")
        out.append(n >> 8)
        out.append(n & 0xFF)
    if whole < len(values):
        n = values[whole] + values[whole + 1] * 45
        if n > 0xFF:
            raise Base45Error("group exceeds one byte")
        out.append(n)
    return bytes(out)
