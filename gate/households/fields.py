"""Checks and masks of single fields of a household row: ID number, phone, date.

Pure functions (no database, no clock unless ``today`` is left out of the ID check); the
import's validation and the office's forms use them, lists use the masks.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from gate.households.spreadsheet import clean_text

__all__ = [
    "LOOKS_NUMERIC",
    "check_id_number",
    "id_check_digit",
    "id_problem",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "nfkc",
    "normalise_id_number",
    "normalise_phone",
    "parse_date",
]


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
LOOKS_NUMERIC = re.compile(r"^\d+(\.\d+)?[eE][+-]?\d+$|^\d+\.\d+$")


def nfkc(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), stripped like every sheet cell."""
    return clean_text(unicodedata.normalize("NFKC", text))


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character (ISO 7064 MOD 11-2) for 17 leading digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalise_id_number(text: str) -> str:
    """NFKC, stripped, final ``x`` upper-cased; the result is not yet checked."""
    return nfkc(text).replace(" ", "").upper()


def id_problem(text: str, today: dt.date | None) -> str | None:
    """Why ``text`` is not a valid resident ID (``excel_number``, ``first_generation``,
    ``shape``, ``birth_date``, ``checksum``), or None."""
    value = normalise_id_number(text)
    if LOOKS_NUMERIC.match(value):
        return "excel_number"
    if re.fullmatch(r"\d{15}", value):
        return "first_generation"
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", value):
        return "shape"
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "birth_date"
    latest = today or dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    if not dt.date(1900, 1, 1) <= born <= latest:
        return "birth_date"
    if id_check_digit(value[:17]) != value[17]:
        return "checksum"
    return None


def check_id_number(s: str, *, today: dt.date | None = None) -> bool:
    """True for an 18-character resident ID with a valid check digit and plausible birth date.

    Lower-case ``x`` and surrounding whitespace are accepted. The birth date MUST be a real
    calendar date from 1900-01-01 to ``today`` (default: tomorrow in UTC, a clock read).
    """
    return id_problem(s, today) is None


def normalise_phone(s: str) -> str | None:
    """``"13800138000"`` for a mainland mobile, ``"0595-12345678"`` for a landline, else None.

    Accepts spaces, hyphens, brackets, full-width digits and a +86/0086/86 prefix on mobiles.
    """
    digits = re.sub(r"[\s\-()\u2010-\u2015]", "", nfkc(s))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if re.fullmatch(r"861[3-9]\d{9}", digits):
        digits = digits[2:]
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits
    if re.fullmatch(r"0\d{9,11}", digits):
        # 010 and 02x are the only three-digit area codes; all others have four digits.
        split = 3 if digits[1] in "12" else 4
        area, local = digits[:split], digits[split:]
        if len(local) in (7, 8) and local[0] != "0":
            return f"{area}-{local}"
    return None


_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+0{1,2}:00(?::00)?)?"
    r"|(\d{4})(\d{2})(\d{2})"
)


def parse_date(s: str) -> dt.date | None:
    """Parse 2026-11-30, 2026/11/30, 2026.11.30, 2026年11月30日 or 20261130 (a midnight time
    such as Excel's ``2026/11/30 0:00`` is allowed); None if not a real date in 2000-2100."""
    match = _DATE.fullmatch(nfkc(s))
    if match is None:
        return None
    parts = [int(g) for g in match.groups() if g is not None]
    try:
        value = dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        return None
    return value if 2000 <= value.year <= 2100 else None


# --- masks --------------------------------------------------------------------------------------


def mask_name(name: str | None) -> str:
    """``"张三丰"`` -> ``"张**"``: keep the first character only."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str:
    """``"13800138000"`` -> ``"138****8000"``; ``"0595-12345678"`` -> ``"0595-****5678"``."""
    if not phone:
        return ""
    if len(phone) == 11 and phone.isdigit():
        return phone[:3] + "****" + phone[-4:]
    area, dash, local = phone.rpartition("-")
    if len(local) <= 4:
        return area + dash + "*" * len(local)
    return area + dash + "*" * (len(local) - 4) + local[-4:]


def mask_id_number(id_number: str | None) -> str:
    """``"350524199001011234"`` -> ``"3505**********1234"``: first four and last four kept."""
    if not id_number:
        return ""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
