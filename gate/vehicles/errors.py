"""Why an operation on vehicles was refused: stable codes and their English message ids."""

from __future__ import annotations

from gate.errors import N_, CodedError
from gate.signing.operations import SIGNING_MESSAGES
from passes.plates import PlateProblem

PLATE_MESSAGES: dict[str, str] = {
    PlateProblem.EMPTY.value: N_("Enter the plate number."),
    PlateProblem.TOO_LONG.value: N_("The plate number is too long."),
    PlateProblem.PROVINCE.value: N_(
        "A plate starts with a province abbreviation such as 鲁 or 京 (or 使 for an embassy)."
    ),
    PlateProblem.AUTHORITY.value: N_("The second character of a plate is a letter A-Z (not I)."),
    PlateProblem.CHARACTERS.value: N_(
        "After its first two characters a plate has only digits and the letters A-Z."
    ),
    PlateProblem.LENGTH.value: N_(
        "A plate has 7 characters, a new-energy plate 8: check the number."
    ),
    PlateProblem.FORM.value: N_(
        "No plate has these characters in this order (new-energy: D or F third, or last)."
    ),
}
"""The message id of each :class:`passes.plates.PlateProblem` (the gate's keypad says the
same in plates.js's caller)."""

VEHICLE_MESSAGES: dict[str, str] = {
    **PLATE_MESSAGES,
    "no_household": N_("There is no household %(code)s in this community."),
    "plate_taken": N_("The plate %(plate)s is already registered to household %(household)s."),
    "no_vehicle": N_("There is no vehicle %(plate)s in this community."),
    "bad_note": N_("The note is at most 64 characters."),
    "bad_validity": N_("A vehicle pass is valid for 1 to %(max_days)d days."),
    "no_pass_in_force": N_("The vehicle %(plate)s has no vehicle pass in force."),
    "reason_required": N_("Give a reason."),
    "key_not_registered": N_("Signing key %(key_id)d is not registered."),
    **SIGNING_MESSAGES,
}


class VehicleError(CodedError):
    """A vehicle operation was refused: a stable ``code`` and its params (nothing written)."""

    messages = VEHICLE_MESSAGES


PLATE_KIND_LABELS: dict[str, str] = {
    "ordinary": N_("Ordinary"),
    "new_energy": N_("New energy"),
    "police": N_("Police"),
    "learner": N_("Learner"),
    "trailer": N_("Trailer"),
    "consulate": N_("Consulate"),
    "hong_kong": N_("Hong Kong crossing"),
    "macau": N_("Macau crossing"),
    "embassy": N_("Embassy"),
}
"""The message id of each plate form (:mod:`passes.plates`), for pages."""
