"""Errands: asking for one, assigning it, accepting, delivering, cancelling; squads.

Operations flush, never commit, and record their own audit event (subject: the household,
so the household's data export lists them): ``errand.create``, ``errand.assign``,
``errand.accept``, ``errand.deliver``, ``errand.cancel``, ``errand.squad_create``,
``errand.squad_members``. Who may do what is :mod:`gate.errands.status`'s rule; a refusal is
an :class:`ErrandError` with a stable code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.accounts.operations import find_user
from gate.audit.operations import record_event
from gate.errands.models import (
    ITEM_MAX,
    ITEMS_MAX,
    NOTE_MAX,
    SQUAD_NAME_MAX,
    TEXT_MAX,
    Errand,
    ErrandKind,
    ErrandSource,
    ErrandSquad,
    ErrandSquadMember,
    ErrandStatus,
)
from gate.errands.status import (
    CREATE_ROLES,
    MANAGE_ROLES,
    OPEN,
    RUNNER_ROLES,
    Doer,
    may_move,
)
from gate.errors import N_, CodedError
from gate.households.models import Household
from gate.households.queries import household_by_code
from gate.zones.queries import household_locks
from passes.state import HouseholdStatus

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


RESIDENT_OPEN_MAX = 5
"""Open errands a household may have asked for from its phone at once (a link is a bearer
secret: this bounds what a leaked or playful one can ask)."""


class ErrandError(CodedError):
    """A refused errand operation: a stable ``code`` and its params."""

    messages = ERRAND_MESSAGES


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


def _runner(session: Session, community_id: int, username: str) -> User:
    user = find_user(session, username.strip())
    if (
        user is None
        or user.community_id != community_id
        or user.disabled_at is not None
        or Role(user.role) not in RUNNER_ROLES
    ):
        raise ErrandError("no_runner", username=username)
    return user


def runner_doer(session: Session, community_id: int, username: str) -> Doer:
    """The account ``username`` as one who runs errands (a volunteer or supervisor of the
    community, not disabled). Raises :class:`ErrandError` ``no_runner``."""
    user = _runner(session, community_id, username)
    return Doer(user.username, role=Role(user.role), user_id=user.id)


def find_squad(session: Session, community_id: int, name: str) -> ErrandSquad:
    """The community's squad called ``name``. Raises :class:`ErrandError` ``no_squad``."""
    squad = session.scalar(
        select(ErrandSquad).where(
            ErrandSquad.community_id == community_id, ErrandSquad.name == name.strip()
        )
    )
    if squad is None:
        raise ErrandError("no_squad", squad=name)
    return squad


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
    errand.assignee_user_id = _runner(session, community_id, assignee).id if assignee else None
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


def squad_ids_of(session: Session, user_id: int) -> set[int]:
    """The squads the account ``user_id`` is in."""
    return set(
        session.scalars(
            select(ErrandSquadMember.squad_id).where(ErrandSquadMember.user_id == user_id)
        )
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


def create_squad(
    session: Session, *, community_id: int, name: str, members: Sequence[str], actor: str
) -> ErrandSquad:
    """A new squad ``name`` with the volunteer accounts ``members`` (usernames).
    Audited as ``errand.squad_create``."""
    clean = " ".join(name.split())
    if not 1 <= len(clean) <= SQUAD_NAME_MAX:
        raise ErrandError("squad_name", max=SQUAD_NAME_MAX)
    exists = session.scalar(
        select(ErrandSquad.id).where(
            ErrandSquad.community_id == community_id, ErrandSquad.name == clean
        )
    )
    if exists is not None:
        raise ErrandError("squad_exists", squad=clean)
    users = [_runner(session, community_id, username) for username in members if username.strip()]
    squad = ErrandSquad(community_id=community_id, name=clean, created_by=actor[:64])
    session.add(squad)
    session.flush()
    for user in {user.id: user for user in users}.values():
        session.add(ErrandSquadMember(squad_id=squad.id, user_id=user.id))
    session.flush()
    record_event(
        session,
        actor=actor[:64],
        action="errand.squad_create",
        community_id=community_id,
        subject_type="errand_squad",
        subject_id=clean,
        details={"members": sorted(user.username for user in users)},
    )
    return squad


def set_squad_members(
    session: Session, *, community_id: int, name: str, members: Sequence[str], actor: str
) -> ErrandSquad:
    """Replace the members of squad ``name`` with ``members`` (usernames).
    Audited as ``errand.squad_members``."""
    squad = find_squad(session, community_id, name)
    users = [_runner(session, community_id, username) for username in members if username.strip()]
    session.execute(delete(ErrandSquadMember).where(ErrandSquadMember.squad_id == squad.id))
    for user in {user.id: user for user in users}.values():
        session.add(ErrandSquadMember(squad_id=squad.id, user_id=user.id))
    session.flush()
    record_event(
        session,
        actor=actor[:64],
        action="errand.squad_members",
        community_id=community_id,
        subject_type="errand_squad",
        subject_id=squad.name,
        details={"members": sorted(user.username for user in users)},
    )
    return squad
