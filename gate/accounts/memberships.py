"""Which communities an account may open, with which role: its home community (the user
row's ``community_id`` and ``role``) and the further ones granted by :class:`Membership`.

A district's account (a street office, an inspector) holds a membership in each of its
communities. Granting or revoking ends the user's sessions (``session_version``), so the
change applies at the next request. Scanners and passes stay per community: a membership
only opens the office pages of that community.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.accounts.models import Membership, Role, User
from gate.accounts.operations import AccountError, end_sessions, set_role
from gate.audit.operations import record_event
from gate.community.models import Community

DISTRICT_ROLES: tuple[Role, ...] = (Role.DISTRICT_OFFICE, Role.DISTRICT_AUDITOR)
"""The roles that see the district overview (besides ADMIN); both are read-only."""


@dataclass(frozen=True)
class Access:
    """One community an account may open: its id, name, zone, the role there, and whether it
    is the account's home community."""

    community_id: int
    community_name: str
    community_code: str
    timezone: str
    role: Role
    home: bool


def accesses(session: Session, user: User) -> list[Access]:
    """The communities ``user`` may open: the home one first, then the granted ones by name."""
    home = session.get(Community, user.community_id)
    found: list[Access] = []
    if home is not None:
        found.append(_access(home, user.role, home=True))
    rows = session.execute(
        select(Membership.role, Community)
        .join(Community, Community.id == Membership.community_id)
        .where(Membership.user_id == user.id, Membership.community_id != user.community_id)
        .order_by(Community.name, Community.id)
    )
    found.extend(_access(community, role, home=False) for role, community in rows)
    return found


def _access(community: Community, role: Role, *, home: bool) -> Access:
    return Access(community.id, community.name, community.code, community.timezone, role, home)


def grant(session: Session, user: User, community: Community, role: Role, *, actor: str) -> str:
    """Give ``user`` ``role`` in ``community``: ``granted`` (new), ``changed`` (another role
    before) or ``unchanged``. In the home community this is a role change. Ends the user's
    sessions when something changed. Audited as ``user.grant`` (or ``user.role``).
    """
    if community.id == user.community_id:
        if user.role is role:
            return "unchanged"
        set_role(session, user, role, actor=actor)
        return "changed"
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.community_id == community.id
        )
    )
    if membership is not None and membership.role is role:
        return "unchanged"
    outcome = "changed" if membership is not None else "granted"
    if membership is None:
        membership = Membership(
            user_id=user.id, community_id=community.id, role=role, granted_by=actor[:64]
        )
        session.add(membership)
    else:
        membership.role = role
    end_sessions(user)
    session.flush()
    _audit(session, user, community, actor, "user.grant", {"role": role.value})
    return outcome


def revoke(session: Session, user: User, community: Community, *, actor: str) -> bool:
    """Take ``community`` away from ``user`` (False: it had no membership there).

    The home community cannot be revoked (:class:`AccountError` ``home_community``: disable
    the user instead). Ends the user's sessions. Audited as ``user.revoke``.
    """
    if community.id == user.community_id:
        raise AccountError("home_community")
    membership = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.community_id == community.id
        )
    )
    if membership is None:
        return False
    previous = membership.role
    session.delete(membership)
    end_sessions(user)
    session.flush()
    _audit(session, user, community, actor, "user.revoke", {"role": previous.value})
    return True


@dataclass(frozen=True)
class Member:
    """A user who may open a community: its row, its role there, and whether it is home."""

    user: User
    role: Role
    home: bool


def community_members(session: Session, community_id: int) -> list[Member]:
    """Everyone who may open community ``community_id``: its own users and the granted
    ones, by username."""
    own = session.scalars(select(User).where(User.community_id == community_id))
    members = [Member(user, user.role, home=True) for user in own]
    granted = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.community_id == community_id, User.community_id != community_id)
    )
    members.extend(Member(user, role, home=False) for user, role in granted)
    return sorted(members, key=lambda member: member.user.username)


def community_member(session: Session, community_id: int, user_id: int) -> Member | None:
    """User ``user_id`` as a member of community ``community_id``, or None."""
    user = session.get(User, user_id)
    if user is None:
        return None
    if user.community_id == community_id:
        return Member(user, user.role, home=True)
    role = session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.community_id == community_id
        )
    )
    return None if role is None else Member(user, role, home=False)


def _audit(
    session: Session,
    user: User,
    community: Community,
    actor: str,
    action: str,
    details: dict[str, str],
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        community_id=community.id,
        subject_type="user",
        subject_id=user.username,
        details=details,
    )
