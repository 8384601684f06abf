"""Who may let a refused crossing through: a supervisor's card or credential, checked.

A supervisor card (:func:`card_supervisor`) counts when it was valid at the scan time (see
:mod:`gate.supervisors.operations`); it is checked in the crossing's own transaction (a
few reads, no password hashing).

An override (a fever or quarantine refusal let through) counts only with the credential of
an account of the crossing's community whose role is supervisor or admin and that is not
disabled. Checking it is two steps, so that argon2 never runs inside a write transaction
(on SQLite that would hold the write lock every scan waits for): :func:`read_supervisor`
reads the account in a read transaction, the caller ends it, and :func:`verify_supervisor`
checks the password with no database at all. The browser gate view needs neither: its user
logged in, and the view passes that account as the :class:`Supervisor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gate.accounts.models import Role
from gate.accounts.operations import find_user
from gate.accounts.passwords import burn_time, verify_password
from gate.community.context import CommunityContext
from gate.supervisors.operations import CardRefusal, check_override_card
from gate.unit_of_work import UnitOfWork
from passes import Code

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""The roles whose credential lets a refused crossing through."""


@dataclass(frozen=True)
class Supervisor:
    """The verified account an override is made under: its id, the community it belongs to,
    the name stored on the crossing (``override_supervisor``) and, when the override was
    made with a supervisor card, the card's id."""

    user_id: int
    community_id: int
    name: str
    card_id: bytes | None = None


def card_supervisor(
    session: Session, *, context: CommunityContext, text: str, at: datetime
) -> Supervisor | Code:
    """The supervisor a card presented at ``at`` (the scan time) names, if it counts
    (:func:`gate.supervisors.operations.check_override_card`); else the refusal's code."""
    holder = check_override_card(session, context=context, text=text, at=at)
    if isinstance(holder, CardRefusal):
        return holder.code
    return Supervisor(holder.user_id, holder.community_id, holder.name, holder.card_id)


@dataclass(frozen=True)
class SupervisorRecord:
    """What :func:`read_supervisor` found (no transaction is needed to use it). ``user_id``
    None: no such account, or not one that may override."""

    username: str
    user_id: int | None = None
    community_id: int | None = None
    name: str = ""
    password_hash: str | None = None


def read_supervisor(session: Session, username: str) -> SupervisorRecord:
    """The read step: the account called ``username``, if it may override (reads only)."""
    user = find_user(session, username)
    if user is None or user.disabled_at is not None or Role(user.role) not in SUPERVISOR_ROLES:
        return SupervisorRecord(username)
    name = (user.display_name or user.username)[:64]
    return SupervisorRecord(username, user.id, user.community_id, name, user.password_hash)


def verify_supervisor(record: SupervisorRecord, password: str) -> Supervisor | None:
    """The password checked against what :func:`read_supervisor` read (argon2, no database):
    the supervisor, or None. An unknown account costs the time of one verification too."""
    if record.password_hash is None or record.user_id is None or record.community_id is None:
        burn_time(password)
        return None
    if not verify_password(record.password_hash, password):
        return None
    return Supervisor(record.user_id, record.community_id, record.name)


def check_supervisor(
    sessions: sessionmaker[Session], username: str, password: str
) -> Supervisor | None:
    """Both steps for an entry point whose own unit of work writes: the account is read in a
    read-only unit of its own (on SQLite without the write lock), which ends before the
    password is hashed. The caller must hold no write transaction while calling this."""
    with UnitOfWork(sessions, writes=False) as reader:
        record = read_supervisor(reader.session, username)
    return verify_supervisor(record, password)
