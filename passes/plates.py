"""Mainland Chinese licence plates: normalise what a volunteer typed, and check its form.

Pure: no I/O. ``parse_plate`` turns typed text into a :class:`Plate` or raises
:class:`PlateError` with a stable ``code`` (translated by the caller). The JavaScript mirror
is ``gate/static/js/checkpoint/plates.js``; both are checked against the same table,
``tests/passes/vectors/plates_v1.json``.

Forms accepted (GA 36 and the 2021 new-energy amendment; separators and spaces dropped):

=============  ==================================================  =============
kind           shape                                               example
=============  ==================================================  =============
ordinary       province + letter + 5 serial characters             鲁E12345
new_energy     province + letter + [DABCEFGHJK] + 1 serial + 4     鲁ED12345
               digits (small cars), or + 5 digits + [DF] (large)   鲁E12345D
police         province + letter + 4 serial characters + 警        鲁E1234警
learner        province + letter + 4 serial characters + 学        鲁E1234学
trailer        province + letter + 4 serial characters + 挂        鲁E1234挂
consulate      province + letter + 4 digits + 领                   沪A1234领
hong_kong      粤Z + 4 serial characters + 港                      粤Z1234港
macau          粤Z + 4 serial characters + 澳                      粤Z1234澳
embassy        使 + 6 digits                                       使014578
=============  ==================================================  =============

Serial characters are digits and the letters A-Z except I and O (never issued there, too
easily read as 1 and 0); the issuing-authority letter (second character) is A-Z except I.
Because of that the only corrections made while normalising are the unambiguous ones: a
letter O or I typed in a serial position becomes 0 or 1, a digit 0 typed as the authority
letter becomes O, and 〇 (the Chinese zero) becomes 0. Full-width characters become
half-width, lower case becomes upper case, and spaces, dots and dashes are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 mainland province abbreviations, in the order of the gate's picker."""

AUTHORITY_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
SERIAL_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SUFFIXES = "警学挂领港澳"
MAX_PLATE_INPUT = 32
"""Longer input is refused before any work: no plate is near this long."""

_SEPARATORS = re.compile("[ \t\n\r\f\v·•.\\-_]+")
"""Spaces, dots and dashes typed or printed between groups (the same set in plates.js)."""
_DIGITS = re.compile("[0-9]+")
_SERIAL = "[0-9A-HJ-NP-Z]"
_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ordinary", re.compile(f"[{PROVINCES}][A-HJ-Z]{_SERIAL}{{5}}")),
    ("new_energy", re.compile(f"[{PROVINCES}][A-HJ-Z](?:[DABCEFGHJK]{_SERIAL}[0-9]{{4}})")),
    ("new_energy", re.compile(f"[{PROVINCES}][A-HJ-Z](?:[0-9]{{5}}[DF])")),
    ("police", re.compile(f"[{PROVINCES}][A-HJ-Z]{_SERIAL}{{4}}警")),
    ("learner", re.compile(f"[{PROVINCES}][A-HJ-Z]{_SERIAL}{{4}}学")),
    ("trailer", re.compile(f"[{PROVINCES}][A-HJ-Z]{_SERIAL}{{4}}挂")),
    ("consulate", re.compile(f"[{PROVINCES}][A-HJ-Z][0-9]{{4}}领")),
    ("hong_kong", re.compile(f"粤Z{_SERIAL}{{4}}港")),
    ("macau", re.compile(f"粤Z{_SERIAL}{{4}}澳")),
    ("embassy", re.compile("使[0-9]{6}")),
)


class PlateProblem(StrEnum):
    """Why typed text is not a plate (stable codes; the gate and the office translate them)."""

    EMPTY = "plate_empty"
    TOO_LONG = "plate_too_long"
    PROVINCE = "plate_province"
    """The first character is not a province abbreviation (nor 使)."""
    AUTHORITY = "plate_authority"
    """The second character is not an issuing-authority letter."""
    CHARACTERS = "plate_characters"
    """A character that no plate carries (I or O in the serial are corrected, not refused)."""
    LENGTH = "plate_length"
    """Too short or too long for every form."""
    FORM = "plate_form"
    """The right characters in an order no plate form has (e.g. a new-energy letter misplaced)."""


class PlateError(ValueError):
    """Typed text is not a mainland plate; ``code`` says why."""

    def __init__(self, code: PlateProblem) -> None:
        super().__init__(code.value)
        self.code = code


@dataclass(frozen=True)
class Plate:
    """A checked plate: ``text`` normalised (e.g. 鲁E12345), ``kind`` one of the forms above."""

    text: str
    kind: str

    @property
    def province(self) -> str:
        """The first character: a province abbreviation, or 使 for an embassy plate."""
        return self.text[0]

    @property
    def prefix(self) -> str:
        """Province and authority letter (鲁E), matched by the community's local prefixes."""
        return self.text[:1] if self.kind == "embassy" else self.text[:2]

    def is_local(self, local_prefixes: tuple[str, ...]) -> bool:
        """Whether the plate starts with one of ``local_prefixes`` (鲁E, or a whole 鲁)."""
        return any(self.text.startswith(prefix) for prefix in local_prefixes)


def normalise_plate(text: str) -> str:
    """The typed text in canonical form (see the module docstring); never raises.

    The result need not be a valid plate: ``parse_plate`` checks it.
    """
    folded = unicodedata.normalize("NFKC", text[: MAX_PLATE_INPUT * 2]).upper()
    folded = _SEPARATORS.sub("", folded).replace("〇", "0")
    if folded.startswith("使"):
        return folded[:1] + folded[1:].replace("O", "0").replace("I", "1")
    head, authority, serial = folded[:1], folded[1:2], folded[2:]
    if authority == "0":
        authority = "O"
    return head + authority + serial.replace("O", "0").replace("I", "1")


def parse_plate(text: str) -> Plate:
    """The plate ``text`` names, normalised; raises :class:`PlateError` if it is none."""
    if len(text) > MAX_PLATE_INPUT * 2:
        raise PlateError(PlateProblem.TOO_LONG)
    plate = normalise_plate(text)
    if not plate:
        raise PlateError(PlateProblem.EMPTY)
    if len(plate) > MAX_PLATE_INPUT:
        raise PlateError(PlateProblem.TOO_LONG)
    for kind, pattern in _FORMS:
        if pattern.fullmatch(plate):
            return Plate(text=plate, kind=kind)
    raise PlateError(_problem(plate))


def plate_problem(text: str) -> PlateProblem | None:
    """None if ``text`` is a plate, else why not (for live feedback while typing)."""
    try:
        parse_plate(text)
    except PlateError as error:
        return error.code
    return None


def _problem(plate: str) -> PlateProblem:
    """The most helpful reason a normalised, non-matching text is not a plate."""
    if plate[0] == "使":
        return PlateProblem.LENGTH if _DIGITS.fullmatch(plate[1:]) else PlateProblem.CHARACTERS
    if plate[0] not in PROVINCES:
        return PlateProblem.PROVINCE
    if len(plate) < 2 or plate[1] not in AUTHORITY_LETTERS:
        return PlateProblem.AUTHORITY
    body = plate[2:]
    last = body[-1:] if body[-1:] in SUFFIXES else ""
    serial = body[: len(body) - len(last)]
    if any(ch not in SERIAL_CHARACTERS for ch in serial):
        return PlateProblem.CHARACTERS
    if len(serial) != 4 if last else len(serial) not in (5, 6):
        return PlateProblem.LENGTH
    return PlateProblem.FORM
