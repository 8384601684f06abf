"""What the offline bundle says about a scanned text: the household it names (and the code
printed on that household's card), a rotating screen code checked against the bundle's
passes, a supervisor card checked against the bundle's cards and revocations. Pure: the
bundle and the time come in as arguments."""

from __future__ import annotations

from datetime import datetime

from passes import (
    CardCheck,
    PassCheck,
    PassError,
    PassRejected,
    card_standing,
    is_screen_code,
    parse_pass,
    parse_screen_code,
    parse_supervisor_card,
    screen_pass_check,
    verify_screen_code,
    verify_supervisor_card,
)
from scanner.bundle import Bundle


def household_label(household_id: int | None, bundle: Bundle | None = None) -> str | None:
    """The offline label: the household's code from the bundle (``3-2-401``, printed on its
    card), else an opaque number (``住户 #581914660``)."""
    if household_id is None:
        return None
    code = None if bundle is None else bundle.household_codes.get(household_id)
    return code or f"住户 #{household_id}"


def household_id_of(text: str, bundle: Bundle | None = None) -> int | None:
    """The household a pass (or, with a bundle, a screen code) names; never verified."""
    if is_screen_code(text):
        try:
            pass_id = parse_screen_code(text).fields.pass_id
        except PassError:
            return None
        issued = None if bundle is None else bundle.passes.get(pass_id)
        return None if issued is None else issued.household_id
    try:
        return parse_pass(text).fields.household_id
    except PassError:
        return None


def presented_check(text: str, bundle: Bundle, now: datetime) -> PassCheck | str:
    """What :func:`passes.decide` takes for a scanned text: a screen code checked against
    the bundle's passes (exactly like the pass it stands for), or the pass text."""
    if not is_screen_code(text):
        return text
    screen = verify_screen_code(text, bundle.keys, now)
    issued = None if isinstance(screen, PassRejected) else bundle.passes.get(screen.pass_id)
    return screen_pass_check(screen, issued, bundle.keys, community_id=bundle.community_id, now=now)


def card_check(text: str, bundle: Bundle, at: datetime) -> CardCheck:
    """A supervisor card checked offline at ``at``: a :class:`passes.VerifiedCard`, or a
    :class:`passes.CardRejected` with its code."""
    check = verify_supervisor_card(text, bundle.keys, community_id=bundle.community_id, now=at)
    return card_standing(check, known=bundle.supervisor_cards, revoked=bundle.revoked_card_ids)


def card_name(text: str) -> str:
    """The override's supervisor as the device knows it: the card's short number (the
    server records the account's name)."""
    try:
        fields, _body, _signature = parse_supervisor_card(text)
    except PassError:
        return "主管卡"
    return f"主管卡 {fields.card_id.hex()[:8].upper()}"
