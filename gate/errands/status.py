"""The errand's status machine and who may move it: pure rules, no database.

``new -> accepted -> delivered``; ``new`` or ``accepted`` -> ``cancelled``; assigning again
puts an accepted errand back to ``new`` (the new assignee accepts it). Who may do what:

- the office (and admin) creates, assigns, cancels, and may mark delivered on a volunteer's
  behalf; a supervisor (a grid worker at the gate) may create;
- a volunteer or supervisor accepts an errand assigned to them or to a squad they are in, and
  marks delivered one they accepted;
- the resident (from the phone page) creates one for the household and cancels one still new.
"""

from __future__ import annotations

from dataclasses import dataclass

from gate.accounts.models import Role
from gate.errands.models import ErrandStatus

NEXT: dict[str, frozenset[ErrandStatus]] = {
    "accept": frozenset({ErrandStatus.NEW}),
    "deliver": frozenset({ErrandStatus.ACCEPTED}),
    "cancel": frozenset({ErrandStatus.NEW, ErrandStatus.ACCEPTED}),
    "assign": frozenset({ErrandStatus.NEW, ErrandStatus.ACCEPTED}),
}
"""The statuses from which each move is allowed."""

OPEN = frozenset({ErrandStatus.NEW, ErrandStatus.ACCEPTED})
CREATE_ROLES = frozenset({Role.ADMIN, Role.OFFICE, Role.SUPERVISOR})
MANAGE_ROLES = frozenset({Role.ADMIN, Role.OFFICE})
"""Assign, cancel, and mark delivered on someone's behalf."""
RUNNER_ROLES = frozenset({Role.ADMIN, Role.VOLUNTEER, Role.SUPERVISOR})
"""Accounts that may run errands (be assigned, be in a squad, accept, deliver)."""


@dataclass(frozen=True)
class Doer:
    """Who asks for a move: an account (``user_id``, ``username``, ``role``) or, with
    ``role`` None, the household's resident through the phone link."""

    username: str
    role: Role | None = None
    user_id: int | None = None

    @property
    def is_resident(self) -> bool:
        return self.role is None


RESIDENT = Doer("住户")
"""The resident through the phone link: recorded as 住户 (the household) in the errand and
the audit trail (there is no account to name)."""


def may_move(move: str, status: ErrandStatus) -> bool:
    """Whether ``move`` (accept, deliver, cancel, assign) is allowed from ``status``."""
    return status in NEXT[move]
