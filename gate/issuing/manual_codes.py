"""Finding a card by the manual code printed on it (``K7QM-2XPA``), for the gate view.

A volunteer types the code when a worn card will not scan; the pass is then re-signed from
its record (:func:`gate.issuing.operations.pass_text`) and decided like a scanned one.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.issuing.models import IssuedPass
from gate.issuing.operations import pass_text

_MANUAL_CODE = re.compile(r"[A-Z2-7]{8}")
"""Eight Base32 characters (``gate.issuing.operations.manual_code``), shown as ``K7QM-2XPA``."""


class UnknownManualCode(LookupError):
    """No pass of this community carries the typed manual code."""


def normalize_manual_code(text: object) -> str | None:
    """``"k7qm 2xpa"`` -> ``"K7QM-2XPA"``; None when it cannot be a manual code.

    Spaces and dashes are ignored and letters upper-cased. Base32 has no 0, 1 or 8, so those
    are read as the letters O, I and B they are mistaken for on a worn card.
    """
    if not isinstance(text, str) or len(text) > 32:
        return None
    cleaned = re.sub(r"[\s\-]", "", text).upper().translate(str.maketrans("018", "OIB"))
    if not _MANUAL_CODE.fullmatch(cleaned):
        return None
    return f"{cleaned[:4]}-{cleaned[4:]}"


def manual_pass_text(session: Session, *, community_id: int, code: object) -> str:
    """The pass text of the card whose manual code is ``code``, in ``community_id`` only.

    Raises :class:`UnknownManualCode`. Revoked and replaced cards are found too: the
    decision refuses them with their own code.
    """
    normalized = normalize_manual_code(code)
    if normalized is None:
        raise UnknownManualCode(str(code)[:32])
    record = session.scalar(
        select(IssuedPass).where(
            IssuedPass.community_id == community_id, IssuedPass.manual_code == normalized
        )
    )
    if record is None:
        raise UnknownManualCode(normalized)
    return pass_text(session, record)
