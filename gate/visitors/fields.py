"""What the gate and the office type about an outsider, checked: kind, plate, phone, purpose.

Every check raises :class:`VisitorError` with a stable code (the entry points translate it),
so bad input is refused before anything is written.
"""

from __future__ import annotations

from gate.errors import N_, CodedError
from gate.households.fields import mask_phone, normalise_phone
from gate.signing.operations import SIGNING_MESSAGES
from passes import VisitorKind
from passes.plates import PlateError, parse_plate

MAX_PURPOSE = 200
MAX_NAME = 64
MAX_HOST = 64

KIND_KEYS = tuple(kind.key for kind in VisitorKind)
"""The kinds, as stored and typed: visitor, delivery, medical, official, other."""

VISITOR_MESSAGES: dict[str, str] = {
    "bad_kind": N_("Unknown kind %(kind)s: use visitor, delivery, medical, official or other."),
    "bad_plate": N_("%(plate)s is not a licence plate (e.g. 鲁E12345)."),
    "bad_phone": N_("%(phone)s is not a phone number (e.g. 13800138000)."),
    "purpose_too_long": N_("The purpose is at most %(limit)d characters."),
    "purpose_required": N_("A visitor pass needs a purpose."),
    "name_required": N_("A visitor pass needs the visitor's name (at most %(limit)d characters)."),
    "host_too_long": N_("The host is at most %(limit)d characters."),
    "bad_window": N_("A visitor pass is valid from its start to its end, at most %(days)d days."),
    "window_over": N_("The pass would already be over: choose an end in the future."),
    "no_such_pass": N_("There is no visitor pass %(visitor_pass)s in this community."),
    "ambiguous_pass": N_(
        "Several visitor passes start with %(visitor_pass)s: give more of the number."
    ),
    "already_revoked": N_("The visitor pass %(visitor_pass)s is already revoked."),
    "reason_required": N_("A revocation needs a reason."),
    "key_not_registered": N_("Signing key %(key_id)d is not registered."),
    "bad_outcome": N_("Only a delivery can be handed over at the gate."),
    "no_gate": N_("There is no gate %(gate)s in this community."),
    "bad_registered_at": N_(
        "The phone's clock puts this registration outside the last %(days)d days or in the"
        " future: check the phone's date and time."
    ),
    **SIGNING_MESSAGES,
}
"""The English message id of each :class:`VisitorError` code."""


class VisitorError(CodedError):
    """Registering, issuing or revoking was refused: a stable ``code`` and its params."""

    messages = VISITOR_MESSAGES


def checked_kind(kind: object) -> VisitorKind:
    """The kind typed as ``kind`` (visitor, delivery, medical, official, other)."""
    try:
        return VisitorKind.from_key(str(kind).strip().lower())
    except ValueError:
        raise VisitorError("bad_kind", kind=str(kind)[:20]) from None


def checked_plate(plate: object) -> str | None:
    """The normalised plate, None when nothing was typed."""
    if plate is None or not str(plate).strip():
        return None
    try:
        return parse_plate(str(plate)).text
    except PlateError:
        raise VisitorError("bad_plate", plate=str(plate)[:20]) from None


def checked_phone(phone: object) -> str | None:
    """The normalised phone (stored whole, shown masked), None when nothing was typed."""
    if phone is None or not str(phone).strip():
        return None
    found = normalise_phone(str(phone)[:40])
    if found is None:
        # The refusal shows the typed number masked too: it reaches logs and screens.
        raise VisitorError("bad_phone", phone=mask_phone(str(phone)[:20]) or "?")
    return found


def checked_purpose(purpose: object, *, required: bool) -> str:
    """The purpose, stripped; ``required`` for a visitor pass."""
    text = "" if purpose is None else str(purpose).strip()
    if len(text) > MAX_PURPOSE:
        raise VisitorError("purpose_too_long", limit=MAX_PURPOSE)
    if required and not text:
        raise VisitorError("purpose_required")
    return text


def checked_name(name: object) -> str:
    """The visitor's name, stripped (1..64 characters)."""
    text = "" if name is None else str(name).strip()
    if not text or len(text) > MAX_NAME:
        raise VisitorError("name_required", limit=MAX_NAME)
    return text


def checked_host(host: object) -> str | None:
    """Whom the visitor comes to, stripped; None when empty."""
    text = "" if host is None else str(host).strip()
    if len(text) > MAX_HOST:
        raise VisitorError("host_too_long", limit=MAX_HOST)
    return text or None
