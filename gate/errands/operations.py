"""Errands: asking for one, assigning it, accepting, delivering, cancelling.

Operations flush, never commit, and record their own audit event (subject: the household,
so the household's data export lists them): ``errand.create``, ``errand.assign``,
``errand.accept``, ``errand.deliver``, ``errand.cancel``. Who may do what is
:mod:`gate.errands.status`'s rule; a refusal is an :class:`ErrandError` with a stable code.
Squads are :mod:`gate.errands.squads`' (re-exported here, with the errors, for the entry
points).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.models import User
from gate.audit.operations import record_event
from gate.errands.errors import ERRAND_MESSAGES, MOVE_WORDS, ErrandError
from gate.errands.models import (
    ITEM_MAX,
    ITEMS_MAX,
    NOTE_MAX,
    TEXT_MAX,
    Errand,
    ErrandKind,
    ErrandSource,
    ErrandSquad,
    ErrandStatus,
)
from gate.errands.squads import (
    create_squad,
    find_squad,
    runner_account,
    runner_doer,
    set_squad_members,
    squad_ids_of,
)
from gate.errands.status import (
    CREATE_ROLES,
    MANAGE_ROLES,
    OPEN,
    RUNNER_ROLES,
    Doer,
    may_move,
)
from gate.households.models import Household
from gate.households.queries import household_by_code
from gate.zones.queries import household_locks
from passes.state import HouseholdStatus

__all__ = [
    "ERRAND_MESSAGES",
    "MOVE_WORDS",
    "RESIDENT_OPEN_MAX",
    "ErrandError",
    "accept_errand",
    "assign_errand",
    "cancel_errand",
    "create_errand",
    "create_squad",
    "deliver_errand",
    "errand_eligible",
    "errand_of",
    "find_squad",
    "is_runner_of",
    "parse_items",
    "runner_doer",
    "set_squad_members",
    "squad_ids_of",
]

RESIDENT_OPEN_MAX = 5
"""Open errands a household may have asked for from its phone at once (a link is a bearer
secret: this bounds what a leaked or playful one can ask)."""


def _audit(session: Session, errand: Errand, action: str, by: Doer, **details: Any) -> None:
    household = session.get(Household, errand.household_id)
    record_event(
        session,
        actor=by.username[:64],
        action=action,
        community_id=errand.community_id,
        user_id=by.user_id,
        subject_type="household",
        subject_id=None if household is None else household.code,
        details={"errand": errand.id, "kind": errand.kind.value, **details},
    )


def errand_eligible(session: Session, household: Household, now: datetime) -> bool:
    """Whether ``household`` may have errands at ``now``: in home quarantine that has not
    ended (no end date, or an end after ``now``), or under a sealed lockdown zone (封控) in
    force at ``now`` over its building, compound or grid."""
    if household.status == HouseholdStatus.QUARANTINED and (
        household.quarantine_until is None or household.quarantine_until > now
    ):
        return True
    return any(lock.in_force(now) for lock in household_locks(session, household.id, now))


def parse_items(text: str | Sequence[str]) -> list[str]:
    """Items from one-per-line text (or a list; commas and 、 also separate), stripped,
    empty ones dropped. Raises :class:`ErrandError` when over the bounds."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    items: list[str] = []
    for line in lines:
        for part in line.replace("，", ",").replace("、", ",").split(","):
            item = " ".join(part.split())
            if item:
                items.append(item)
    if len(items) > ITEMS_MAX:
        raise ErrandError("too_many_items", max=ITEMS_MAX)
    if any(len(item) > ITEM_MAX for item in items):
        raise ErrandError("item_too_long", max=ITEM_MAX)
    return items


def _open_count(session: Session, household_id: int) -> int:
    return len(
        session.scalars(
            select(Errand.id).where(
                Errand.household_id == household_id, Errand.status.in_(list(OPEN))
            )
        ).all()
    )


def _kind(kind: str) -> ErrandKind:
    try:
        return ErrandKind(kind)
    except ValueError:
        raise ErrandError("bad_kind") from None


def _note(note: str | None) -> str | None:
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX:
        raise ErrandError("note_too_long", max=NOTE_MAX)
    return text or None


def create_errand(
    session: Session,
    *,
    community_id: int,
    household_code: str,
    kind: str,
    text: str = "",
    items: str | Sequence[str] = "",
    assignee: str | None = None,
    squad: str | None = None,
    by: Doer,
    now: datetime,
) -> Errand:
    """Ask for an errand for household ``household_code`` (in home quarantine at ``now``),
    optionally assigned at once to the volunteer ``assignee`` or the squad ``squad``.

    ``by`` is an account of :data:`CREATE_ROLES` or the resident (whose request is never
    assigned by them). Raises :class:`ErrandError`. Audited as ``errand.create``.
    """
    if not by.is_resident and by.role not in CREATE_ROLES:
        raise ErrandError("not_allowed", errand="")
    household = household_by_code(session, community_id, household_code.strip())
    if household is None:
        raise ErrandError("no_household", household=household_code)
    if not errand_eligible(session, household, now):
        raise ErrandError("not_quarantined", household=household.code)
    chosen_kind = _kind(kind)
    body = " ".join(text.split())
    if len(body) > TEXT_MAX:
        raise ErrandError("text_too_long", max=TEXT_MAX)
    listed = parse_items(items)
    if by.is_resident and _open_count(session, household.id) >= RESIDENT_OPEN_MAX:
        raise ErrandError("too_many_open", max=RESIDENT_OPEN_MAX)
    if not body and not listed and chosen_kind is not ErrandKind.RUBBISH:
        raise ErrandError("empty")
    errand = Errand(
        community_id=community_id,
        household_id=household.id,
        kind=chosen_kind,
        text=body,
        items="\n".join(listed),
        status=ErrandStatus.NEW,
        source=ErrandSource.RESIDENT if by.is_resident else ErrandSource.OFFICE,
        created_at=now,
        created_by=by.username[:64],
    )
    if not by.is_resident:
        _set_assignee(session, errand, community_id, assignee, squad)
    session.add(errand)
    session.flush()
    _audit(session, errand, "errand.create", by, **_assignee_details(session, errand))
    session.flush()
    return errand


def _set_assignee(
    session: Session, errand: Errand, community_id: int, assignee: str | None, squad: str | None
) -> None:
    assignee, squad = (assignee or "").strip() or None, (squad or "").strip() or None
    if assignee and squad:
        raise ErrandError("one_assignee")
    errand.assignee_user_id = (
        runner_account(session, community_id, assignee).id if assignee else None
    )
    errand.squad_id = find_squad(session, community_id, squad).id if squad else None


def _assignee_details(session: Session, errand: Errand) -> dict[str, str]:
    if errand.assignee_user_id is not None:
        user = session.get(User, errand.assignee_user_id)
        return {"user": user.username if user else str(errand.assignee_user_id)}
    if errand.squad_id is not None:
        squad = session.get(ErrandSquad, errand.squad_id)
        return {"squad": squad.name if squad else str(errand.squad_id)}
    return {}


def errand_of(session: Session, community_id: int, errand_id: int) -> Errand:
    """The community's errand ``errand_id``, its row locked until the transaction ends (two
    volunteers of a squad pressing 接单 at once: the second sees it taken). Raises
    :class:`ErrandError` ``no_errand``."""
    errand = session.scalar(
        select(Errand)
        .where(Errand.id == errand_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if errand is None or errand.community_id != community_id:
        raise ErrandError("no_errand", errand=errand_id)
    return errand


def _check_move(errand: Errand, move: str) -> None:
    if not may_move(move, errand.status):
        raise ErrandError(
            "bad_move", errand=errand.id, status=errand.status.value, move=MOVE_WORDS[move]
        )


def is_runner_of(session: Session, errand: Errand, by: Doer) -> bool:
    """Whether ``by`` is the errand's assignee, in its squad, or the one who accepted it."""
    if by.user_id is None:
        return False
    if by.user_id in (errand.assignee_user_id, errand.accepted_by_user_id):
        return True
    return errand.squad_id is not None and errand.squad_id in squad_ids_of(session, by.user_id)


def assign_errand(
    session: Session,
    *,
    community_id: int,
    errand_id: int,
    assignee: str | None = None,
    squad: str | None = None,
    by: Doer,
    now: datetime,
) -> Errand:
    """(Re)assign an open errand to the volunteer ``assignee`` or the squad ``squad`` (both
    None: unassigned). An accepted errand goes back to ``new``. Office only.
    Audited as ``errand.assign``."""
    errand = errand_of(session, community_id, errand_id)
    if by.role not in MANAGE_ROLES:
        raise ErrandError("not_allowed", errand=errand.id)
    _check_move(errand, "assign")
    _set_assignee(session, errand, community_id, assignee, squad)
    errand.status = ErrandStatus.NEW
    errand.accepted_at = errand.accepted_by_user_id = None
    session.flush()
    _audit(
        session,
        errand,
        "errand.assign",
        by,
        at=now.isoformat(),
        **_assignee_details(session, errand),
    )
    session.flush()
    return errand


def accept_errand(
    session: Session, *, community_id: int, errand_id: int, by: Doer, now: datetime
) -> Errand:
    """``by`` (a volunteer or supervisor it is assigned to, directly or through a squad)
    takes the errand: ``new -> accepted``. Audited as ``errand.accept``."""
    errand = errand_of(session, community_id, errand_id)
    if by.role not in RUNNER_ROLES or not is_runner_of(session, errand, by):
        raise ErrandError("not_allowed", errand=errand.id)
    _check_move(errand, "accept")
    errand.status = ErrandStatus.ACCEPTED
    errand.accepted_at = now
    errand.accepted_by_user_id = by.user_id
    session.flush()
    _audit(session, errand, "errand.accept", by)
    session.flush()
    return errand


def deliver_errand(
    session: Session,
    *,
    community_id: int,
    errand_id: int,
    note: str | None = None,
    by: Doer,
    now: datetime,
) -> Errand:
    """Mark an accepted errand delivered at ``now`` with an optional note: by the volunteer
    who accepted it, or by the office on their behalf. Audited as ``errand.deliver``."""
    errand = errand_of(session, community_id, errand_id)
    own = by.user_id is not None and by.user_id == errand.accepted_by_user_id
    if not own and by.role not in MANAGE_ROLES:
        raise ErrandError("not_allowed", errand=errand.id)
    _check_move(errand, "deliver")
    errand.delivery_note = _note(note)
    errand.status = ErrandStatus.DELIVERED
    errand.delivered_at = now
    errand.delivered_by = by.username[:64]
    session.flush()
    _audit(session, errand, "errand.deliver", by)
    session.flush()
    return errand


def cancel_errand(
    session: Session,
    *,
    community_id: int,
    errand_id: int,
    reason: str | None,
    by: Doer,
    now: datetime,
    household_id: int | None = None,
) -> Errand:
    """Cancel an open errand. The office needs a ``reason``; the resident (``household_id``
    their household) may cancel only their own errand while it is still new.
    Audited as ``errand.cancel``."""
    errand = errand_of(session, community_id, errand_id)
    if by.is_resident:
        if household_id != errand.household_id:
            raise ErrandError("no_errand", errand=errand_id)
        if errand.status is not ErrandStatus.NEW:
            raise ErrandError(
                "bad_move", errand=errand.id, status=errand.status.value, move=MOVE_WORDS["cancel"]
            )
    elif by.role not in MANAGE_ROLES:
        raise ErrandError("not_allowed", errand=errand.id)
    _check_move(errand, "cancel")
    text = _note(reason)
    if text is None and not by.is_resident:
        raise ErrandError("reason_required")
    errand.status = ErrandStatus.CANCELLED
    errand.cancelled_at = now
    errand.cancelled_by = by.username[:64]
    errand.cancel_reason = text
    session.flush()
    record_reason = text or ""
    _audit(session, errand, "errand.cancel", by, reason=record_reason)
    session.flush()
    return errand
