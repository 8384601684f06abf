"""One spelling for building, unit and room names: ``7号楼``, ``7栋``, ``七号楼``, ``７`` are ``7``.

Offices type the same building many ways, and a household import that stored ``7号楼`` and ``7``
as two buildings would print and count them apart. :func:`normalise_place_name` is the one
rule, used by the import's validation, the household form and migration 0006:

- NFKC first (full-width digits and letters become ASCII, the ideographic space a space),
  every space removed.
- A number, written in digits (``7``, ``07``) or in Chinese numerals (``七``, ``十一``,
  ``二十三``, ``一百零五``, digit by digit ``四零一``), optionally with ``第`` before it and
  the kind's word after it, becomes its decimal digits without leading zeros: ``7``.
  Words: buildings ``号楼`` ``号`` ``栋`` ``幢`` ``座`` ``楼`` ``#`` (``7#楼``);
  units ``单元`` ``号``; rooms ``室`` ``号`` ``房``.
- Anything else (``A座``, ``商铺``, ``B-101``) is kept as written, trimmed (after NFKC,
  ASCII letters upper-cased, inner spaces removed), so ``a座`` and ``A 座`` are ``A座``.

The function is pure and idempotent: ``normalise(normalise(x)) == normalise(x)``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

__all__ = ["PlaceKind", "chinese_number", "normalise_place_name"]

PlaceKind = Literal["building", "unit", "room"]

_SUFFIXES: dict[str, tuple[str, ...]] = {
    # Longest first: "号楼" before "号" and "楼".
    "building": ("#楼", "号楼", "号栋", "号幢", "栋", "幢", "座", "号", "楼", "#"),
    "unit": ("单元", "号"),
    "room": ("室", "号", "房"),
}

_DIGITS = {
    "零": 0, "〇": 0, "○": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}  # fmt: skip
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_SPACES = re.compile(r"\s+")


def chinese_number(text: str) -> int | None:
    """The value of a Chinese numeral below 10,000, or None.

    ``十`` 10, ``十一`` 11, ``二十三`` 23, ``一百零五`` 105, ``两千`` 2000; a run of digits
    without units is read digit by digit (``四零一`` 401, ``一〇二`` 102).
    """
    if not text or any(c not in _DIGITS and c not in _UNITS for c in text):
        return None
    if not any(c in _UNITS for c in text):
        return int("".join(str(_DIGITS[c]) for c in text))
    total, digit, last_unit = 0, None, 10_000
    for char in text:
        if char in _DIGITS:
            if digit is not None and _DIGITS[char] != 0:
                return None  # two digits in a row inside a numeral with units
            digit = _DIGITS[char] if _DIGITS[char] != 0 else None
            continue
        unit = _UNITS[char]
        if unit >= last_unit:
            return None  # 十百, 百百: units must fall
        if digit is None:
            if total or unit != 10:
                return None  # a bare 百/千 (or 十 after a higher unit without a digit)
            digit = 1  # 十 = 一十
        total += digit * unit
        digit, last_unit = None, unit
    if digit is not None:
        total += digit
    return total


def _number(text: str) -> int | None:
    if text.isascii() and text.isdigit():
        return int(text)
    return chinese_number(text)


def normalise_place_name(text: str, kind: PlaceKind) -> str:
    """The stored form of a building, unit or room name (see the module docstring)."""
    value = _SPACES.sub("", unicodedata.normalize("NFKC", text))
    if not value:
        return ""
    core = value.removeprefix("第") if len(value) > 1 else value
    for suffix in _SUFFIXES[kind]:
        if core.endswith(suffix) and len(core) > len(suffix):
            core = core[: -len(suffix)]
            break
    number = _number(core)
    if number is not None:
        return str(number)
    return value.upper() if value.isascii() else _upper_ascii(value)


def _upper_ascii(value: str) -> str:
    return "".join(c.upper() if c.isascii() else c for c in value)
