"""Errand refusals: a stable code, its params and the English message id of each."""

from __future__ import annotations

from gate.errors import N_, CodedError

ERRAND_MESSAGES: dict[str, str] = {
    "no_household": N_("There is no household %(household)s in this community."),
    "not_quarantined": N_(
        "Household %(household)s is not in home quarantine nor in a sealed lockdown zone: "
        "errands are only for households that may not go out."
    ),
    "bad_kind": N_("Choose what is needed: groceries, medicine, rubbish or other."),
    "empty": N_("Say what is needed: a text or at least one item."),
    "text_too_long": N_("The request is too long: at most %(max)d characters."),
    "too_many_items": N_("Too many items: at most %(max)d."),
    "item_too_long": N_("An item is too long: at most %(max)d characters each."),
    "note_too_long": N_("The note is too long: at most %(max)d characters."),
    "reason_required": N_("Cancelling an errand needs a reason."),
    "no_errand": N_("There is no errand %(errand)s in this community."),
    "bad_move": N_("Errand %(errand)s is %(status)s: it cannot be %(move)s now."),
    "not_allowed": N_("You may not do this with errand %(errand)s."),
    "no_runner": N_("There is no volunteer or supervisor account %(username)s in this community."),
    "no_squad": N_("There is no squad %(squad)s in this community."),
    "one_assignee": N_("Assign the errand to a volunteer or to a squad, not both."),
    "squad_name": N_("A squad needs a name of 1 to %(max)d characters."),
    "squad_exists": N_("There is already a squad %(squad)s."),
    "too_many_open": N_(
        "The household already has %(max)d errands waiting: wait until one is delivered."
    ),
}
"""The English message id of each :class:`ErrandError` code."""

MOVE_WORDS = {
    "accept": N_("accepted"),
    "deliver": N_("marked delivered"),
    "cancel": N_("cancelled"),
    "assign": N_("assigned"),
}
"""The ``%(move)s`` of ``bad_move`` (entry points translate the params that are msgids)."""


class ErrandError(CodedError):
    """A refused errand operation: a stable ``code`` and its params."""

    messages = ERRAND_MESSAGES
