"""Squads of volunteers (代购小分队, 党员先锋队) and the accounts that run errands.

Audited: ``errand.squad_create``, ``errand.squad_members``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gate.accounts.models import Role, User
from gate.accounts.operations import find_user
from gate.audit.operations import record_event
from gate.errands.errors import ErrandError
from gate.errands.models import SQUAD_NAME_MAX, ErrandSquad, ErrandSquadMember
from gate.errands.status import RUNNER_ROLES, Doer


def runner_account(session: Session, community_id: int, username: str) -> User:
    """The community's account ``username`` if it may run errands (volunteer, supervisor or
    admin; not disabled). Raises :class:`ErrandError` ``no_runner``."""
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
    user = runner_account(session, community_id, username)
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


def squad_ids_of(session: Session, user_id: int) -> set[int]:
    """The squads the account ``user_id`` is in."""
    return set(
        session.scalars(
            select(ErrandSquadMember.squad_id).where(ErrandSquadMember.user_id == user_id)
        )
    )


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
    users = _runners(session, community_id, members)
    squad = ErrandSquad(community_id=community_id, name=clean, created_by=actor[:64])
    session.add(squad)
    session.flush()
    _seat(session, squad, users)
    record_event(
        session,
        actor=actor[:64],
        action="errand.squad_create",
        community_id=community_id,
        subject_type="errand_squad",
        subject_id=squad.name,
        details={"members": sorted(user.username for user in users)},
    )
    return squad


def set_squad_members(
    session: Session, *, community_id: int, name: str, members: Sequence[str], actor: str
) -> ErrandSquad:
    """Replace the members of squad ``name`` with ``members`` (usernames).
    Audited as ``errand.squad_members``."""
    squad = find_squad(session, community_id, name)
    users = _runners(session, community_id, members)
    session.execute(delete(ErrandSquadMember).where(ErrandSquadMember.squad_id == squad.id))
    _seat(session, squad, users)
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


def _runners(session: Session, community_id: int, members: Sequence[str]) -> list[User]:
    """The volunteer accounts named by ``members`` (blank names skipped; raises for one that
    may not run errands)."""
    return [runner_account(session, community_id, name) for name in members if name.strip()]


def _seat(session: Session, squad: ErrandSquad, users: Sequence[User]) -> None:
    """Make ``users`` (each once) members of ``squad``."""
    for user in {user.id: user for user in users}.values():
        session.add(ErrandSquadMember(squad_id=squad.id, user_id=user.id))
    session.flush()
