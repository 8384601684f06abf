"""What a person reads for an errand's codes: English message ids, translated by the entry
point (gettext on pages, ``translate`` in the CLI)."""

from __future__ import annotations

from collections.abc import Callable

from gate.errands.operations import ErrandError
from gate.errors import N_

KIND_LABELS: dict[str, str] = {
    "groceries": N_("Groceries"),
    "medicine": N_("Medicine"),
    "rubbish": N_("Rubbish pickup"),
    "other": N_("Other errand"),
}
STATUS_LABELS: dict[str, str] = {
    "new": N_("Waiting"),
    "accepted": N_("Accepted"),
    "delivered": N_("Delivered"),
    "cancelled": N_("Cancelled"),
}
SOURCE_LABELS: dict[str, str] = {
    "office": N_("Office"),
    "resident": N_("Resident (phone)"),
}


def error_text(exc: ErrandError, translate: Callable[[str], str]) -> str:
    """``exc``'s message with its status and move words translated too."""
    params = dict(exc.params)
    if "status" in params:
        params["status"] = translate(
            STATUS_LABELS.get(str(params["status"]), str(params["status"]))
        )
    if "move" in params:
        params["move"] = translate(str(params["move"]))
    text = translate(exc.message_id)
    return text % params if params else text
