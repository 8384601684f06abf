"""Gates (出入口) of a community: added, renamed and listed by the office.

A gate's code is its short machine name (``south``); its name is what the office calls it
(``南门``) and what pages show. Closing a gate (closed management keeps one entrance open)
revokes its scanners and keeps its chain and log; a closed gate takes no new scanner until it
is reopened. A gate is never deleted: its crossings refer to it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Community
from gate.devices.models import Device, Gate
from gate.devices.operations import revoke_device
from gate.errors import N_, CodedError

GATE_CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


GATE_MESSAGES: dict[str, str] = {
    "bad_gate_name": N_("A gate needs a name (1-100 characters)."),
    "bad_gate_code": N_(
        "A gate code is 1-32 characters: lower-case letters a-z, digits, '-' or '_'."
    ),
    "gate_code_taken": N_("This community already has a gate with the code %(code)s."),
    "no_such_gate": N_("No gate %(gate)s in this community."),
    "gate_closed": N_("The gate %(gate)s is closed: reopen it first."),
    "gate_already_closed": N_("The gate %(gate)s is already closed."),
    "gate_not_closed": N_("The gate %(gate)s is open."),
}


class GateError(CodedError, ValueError):
    """A gate change was refused: a stable ``code`` and its message's ``params``."""

    messages = GATE_MESSAGES


def add_gate(
    session: Session, community: Community, *, name: str, code: str | None, actor: str
) -> Gate:
    """Add a gate to ``community``. ``code`` defaults to ``gate<n>``. Audited as ``gate.add``."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise GateError("bad_gate_name")
    taken = set(session.scalars(select(Gate.code).where(Gate.community_id == community.id)))
    if code is None:
        code = next(f"gate{n}" for n in range(1, len(taken) + 2) if f"gate{n}" not in taken)
    code = code.strip().lower()
    if not GATE_CODE_PATTERN.fullmatch(code):
        raise GateError("bad_gate_code")
    if code in taken:
        raise GateError("gate_code_taken", code=code)
    gate = Gate(community_id=community.id, name=name, code=code)
    session.add(gate)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="gate.add",
        community_id=community.id,
        subject_type="gate",
        subject_id=code,
        details={"gate": name},
    )
    return gate


def find_gate(session: Session, community: Community, code: str) -> Gate:
    """The gate ``code`` of ``community``; :class:`GateError` ``no_such_gate`` otherwise."""
    gate = session.scalar(
        select(Gate).where(Gate.community_id == community.id, Gate.code == code.strip().lower())
    )
    if gate is None:
        raise GateError("no_such_gate", gate=code)
    return gate


def rename_gate(session: Session, gate: Gate, *, name: str, actor: str) -> None:
    """Give ``gate`` a new display name. Audited as ``gate.rename``."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise GateError("bad_gate_name")
    previous, gate.name = gate.name, name
    session.flush()
    record_event(
        session,
        actor=actor,
        action="gate.rename",
        community_id=gate.community_id,
        subject_type="gate",
        subject_id=gate.code,
        details={"old_name": previous, "new_name": name},
    )


GATE_CLOSED_REASON = "出入口已关闭"
"""The reason recorded on the scanners revoked by :func:`close_gate`."""


def close_gate(
    session: Session, gate: Gate, *, actor: str, now: datetime, reason: str | None = None
) -> list[Device]:
    """Close ``gate``: every scanner of it that is not revoked yet is revoked (its token is
    refused from now on, each audited as ``device.revoke``), and the gate takes no new
    scanner until :func:`reopen_gate`. Its crossings and hash chain stay as they are.
    Returns the scanners revoked. Closing a closed gate raises ``gate_already_closed``.
    Audited as ``gate.close``.
    """
    if gate.closed_at is not None:
        raise GateError("gate_already_closed", gate=gate.name)
    gate.closed_at = now
    revoked = [
        device
        for device in list(gate.devices)
        if revoke_device(session, device, actor=actor, reason=reason or GATE_CLOSED_REASON, now=now)
    ]
    session.flush()
    record_event(
        session,
        actor=actor,
        action="gate.close",
        community_id=gate.community_id,
        subject_type="gate",
        subject_id=gate.code,
        reason=reason,
        details={"gate": gate.name, "devices": [device.id for device in revoked]},
    )
    return revoked


def reopen_gate(session: Session, gate: Gate, *, actor: str, reason: str | None = None) -> None:
    """Open a closed gate again (its revoked scanners stay revoked: add new ones). Audited as
    ``gate.reopen``; an open gate raises ``gate_not_closed``."""
    if gate.closed_at is None:
        raise GateError("gate_not_closed", gate=gate.name)
    gate.closed_at = None
    session.flush()
    record_event(
        session,
        actor=actor,
        action="gate.reopen",
        community_id=gate.community_id,
        subject_type="gate",
        subject_id=gate.code,
        reason=reason,
        details={"gate": gate.name},
    )


def ensure_open(gate: Gate) -> Gate:
    """``gate`` if it is open; :class:`GateError` ``gate_closed`` otherwise (no new scanner
    at a closed gate)."""
    if gate.closed_at is not None:
        raise GateError("gate_closed", gate=gate.name)
    return gate
