"""The gate view's work: which gate a browser scans for, manual codes, recording a scan.

A crossing from the browser goes through :func:`gate.crossings.operations.record_scan`, the
same path as a scanner device's, with an :class:`Origin` naming the logged-in user instead of
a device. Operations flush, never commit.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.models import Role
from gate.community.context import CommunityContext
from gate.crossings.operations import Origin, Recorded, ScanRequest, record_scan
from gate.devices.models import Gate
from gate.issuing.models import IssuedPass
from gate.issuing.operations import pass_text
from passes import Override

OVERRIDE_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Who may let a refused crossing through from the gate view."""

_MANUAL_CODE = re.compile(r"[A-Z2-7]{8}")
"""Eight Base32 characters (``gate.issuing.operations.manual_code``), shown as ``K7QM-2XPA``."""


class UnknownManualCode(LookupError):
    """No pass of this community carries the typed manual code."""


class OverrideNotAllowed(PermissionError):
    """The user's role may not override a refusal."""


def gates_of(session: Session, community_id: int) -> list[Gate]:
    """The community's gates, by name."""
    return list(
        session.scalars(select(Gate).where(Gate.community_id == community_id).order_by(Gate.name))
    )


def gate_of(session: Session, gate_id: object, community_id: int) -> Gate | None:
    """The gate ``gate_id`` if it belongs to ``community_id`` (anything else: None)."""
    if isinstance(gate_id, bool) or not isinstance(gate_id, int):
        return None
    gate = session.get(Gate, gate_id)
    return gate if gate is not None and gate.community_id == community_id else None


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


def supervisor_override(role: str, supervisor: str, reason: object) -> Override:
    """The override a gate user asks for; only :data:`OVERRIDE_ROLES` may.

    Raises :class:`OverrideNotAllowed`, or ValueError when the reason is empty.
    """
    if Role(role) not in OVERRIDE_ROLES:
        raise OverrideNotAllowed(role)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise ValueError("an override needs a reason of at most 500 characters")
    return Override(supervisor=supervisor, reason=reason.strip())


def record_browser_scan(
    session: Session,
    *,
    context: CommunityContext,
    gate_id: int,
    user_id: int,
    request: ScanRequest,
    now: datetime,
) -> Recorded:
    """Decide and record a crossing reported by a user on the gate view."""
    return record_scan(
        session,
        context=context,
        origin=Origin(gate_id=gate_id, user_id=user_id),
        request=request,
        now=now,
    )
