"""Account operations: create users, change role or password, disable, and log in.

Every write flushes, never commits (one transaction per request or CLI job). Changing a
user's role or password, or disabling them, bumps ``session_version``: the web layer keeps
the version in the login session and drops sessions whose version is stale.

Login throttling: after ``max_failures`` failed attempts within ``window_seconds`` for the
same username, or from the same remote address, further attempts are refused without
checking the password (and are not recorded, so an attacker cannot extend the lock-out of
a user forever by hammering it; the window simply runs out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from gate.accounts.models import LoginAttempt, Role, User
from gate.accounts.passwords import (
    PasswordPolicyError,
    burn_time,
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from gate.audit.operations import record_event
from gate.community.models import Community

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
"""Usernames: 2-64 lower-case ASCII letters, digits, ``.``, ``_``, ``-``; alphanumeric first."""
USERNAME_COLUMN = 64
REMOTE_ADDR_COLUMN = 64


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the message catalogue; entry points translate it (gettext)."""
    return msgid


ACCOUNT_MESSAGES: dict[str, str] = {
    "bad_username": N_("A username is 2-64 characters: letters a-z, digits, '.', '_' or '-'."),
    "username_taken": N_("The username %(username)s is already taken."),
    "too_short": N_("The password must have at least %(min_length)d characters."),
    "too_long": N_("The password must have at most %(max_length)d characters."),
    "same_as_username": N_("The password must not be the username."),
}
"""The English message id of each :class:`AccountError` code (parameters: its ``params``)."""


class AccountError(ValueError):
    """An account change was refused: a stable ``code`` and the ``params`` of its message.

    Entry points show ``gettext(ACCOUNT_MESSAGES[code], **params)``; :attr:`message` is the
    untranslated English text (logs, tests).
    """

    def __init__(self, code: str, **params: str | int) -> None:
        self.code = code
        self.params = params
        self.message_id = ACCOUNT_MESSAGES[code]
        self.message = self.message_id % params if params else self.message_id
        super().__init__(self.message)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: the user, or why it was refused.

    ``refusal``: None (logged in), ``throttled``, ``bad_credentials`` or ``disabled``. Not an
    exception: the caller must commit the recorded failure, not roll it back.
    """

    user: User | None
    refusal: str | None


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures within how many seconds lock a username or an address out."""

    max_failures: int
    window_seconds: int


def normalize_username(raw: str) -> str:
    """The stored form of a typed username: trimmed, lower-case."""
    return raw.strip().lower()


def find_user(session: Session, username: str) -> User | None:
    """The user called ``username`` (normalised), or None."""
    return session.scalar(select(User).where(User.username == normalize_username(username)))


def create_user(
    session: Session,
    *,
    community_id: int,
    username: str,
    password: str,
    role: Role,
    actor: str,
    display_name: str | None = None,
) -> User:
    """Add a user with an argon2id hash of ``password`` (checked against the policy).

    Raises :class:`AccountError` (``bad_username``, ``username_taken``, or the password
    policy's code). Audited as ``user.create``.
    """
    name = normalize_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise AccountError("bad_username")
    if find_user(session, name) is not None:
        raise AccountError("username_taken", username=name)
    _check_password(password, name)
    user = User(
        community_id=community_id,
        username=name,
        display_name=(display_name or name).strip()[:64],
        password_hash=hash_password(password),
        role=role,
        session_version=0,
    )
    session.add(user)
    session.flush()
    _audit(session, user, actor, "user.create", details={"role": role.value})
    return user


def set_password(session: Session, user: User, password: str, *, actor: str) -> None:
    """Replace the user's password and end their sessions. Audited as ``user.password``."""
    _check_password(password, user.username)
    user.password_hash = hash_password(password)
    end_sessions(user)
    session.flush()
    _audit(session, user, actor, "user.password")


def set_role(session: Session, user: User, role: Role, *, actor: str) -> None:
    """Give the user ``role`` and end their sessions. Audited as ``user.role``."""
    previous = user.role
    user.role = role
    end_sessions(user)
    session.flush()
    _audit(session, user, actor, "user.role", details={"from": previous.value, "to": role.value})


def disable_user(
    session: Session, user: User, *, actor: str, now: datetime, reason: str | None = None
) -> None:
    """Disable the user (never deleted: the logs name them) and end their sessions.

    Disabling a disabled user changes nothing. Audited as ``user.disable``.
    """
    if user.disabled_at is not None:
        return
    user.disabled_at = now
    end_sessions(user)
    session.flush()
    _audit(session, user, actor, "user.disable", reason=reason)


def end_sessions(user: User) -> None:
    """Invalidate every login session of ``user`` (they must log in again)."""
    user.session_version = (user.session_version or 0) + 1


def log_in(
    session: Session,
    *,
    username: str,
    password: str,
    remote_addr: str | None,
    now: datetime,
    policy: LoginPolicy,
) -> LoginResult:
    """Check a login attempt and record it (flushed: the caller commits, refused or not).

    Refusals: ``throttled`` (too many recent failures for this username
    or address: nothing is checked or recorded), ``bad_credentials`` (unknown user or wrong
    password) or ``disabled`` (right password, disabled user). A success whose hash was made
    with older argon2 parameters rehashes the password.
    """
    name = normalize_username(username)[:USERNAME_COLUMN]
    address = remote_addr[:REMOTE_ADDR_COLUMN] if remote_addr else None
    if is_throttled(session, username=name, remote_addr=address, now=now, policy=policy):
        return LoginResult(None, "throttled")
    user = find_user(session, name)
    if user is None:
        burn_time(password)
        outcome = "bad_credentials"
    elif not verify_password(user.password_hash, password):
        outcome = "bad_credentials"
    elif user.disabled_at is not None:
        outcome = "disabled"
    else:
        outcome = "ok"
    session.add(
        LoginAttempt(username=name, remote_addr=address, attempted_at=now, success=outcome == "ok")
    )
    session.flush()
    if user is None or outcome != "ok":
        return LoginResult(None, outcome)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.flush()
    return LoginResult(user, None)


def is_throttled(
    session: Session,
    *,
    username: str,
    remote_addr: str | None,
    now: datetime,
    policy: LoginPolicy,
) -> bool:
    """Whether recent failures for ``username`` or from ``remote_addr`` reached the limit."""
    since = now - timedelta(seconds=policy.window_seconds)
    criteria: list[ColumnElement[bool]] = [LoginAttempt.username == username]
    if remote_addr:
        criteria.append(LoginAttempt.remote_addr == remote_addr)
    for criterion in criteria:
        failures = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(criterion, LoginAttempt.success.is_(False), LoginAttempt.attempted_at > since)
        )
        if (failures or 0) >= policy.max_failures:
            return True
    return False


def prune_login_attempts(session: Session, *, before: datetime) -> int:
    """Delete login attempts older than ``before`` (they no longer throttle); return how many."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def _check_password(password: str, username: str) -> None:
    try:
        check_policy(password, username=username)
    except PasswordPolicyError as exc:
        raise AccountError(exc.code, **exc.params) from None


def _audit(
    session: Session,
    user: User,
    actor: str,
    action: str,
    *,
    reason: str | None = None,
    details: dict[str, str] | None = None,
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        community_id=user.community_id,
        subject_type="user",
        subject_id=user.username,
        reason=reason,
        details=details,
    )


def user_and_community(session: Session, user_id: int) -> tuple[User, Community] | None:
    """User ``user_id`` and the community it belongs to, or None."""
    row = session.execute(
        select(User, Community)
        .join(Community, Community.id == User.community_id)
        .where(User.id == user_id)
    ).first()
    return None if row is None else (row[0], row[1])


def community_users(session: Session, community_id: int) -> list[User]:
    """The users of community ``community_id``, by username."""
    return list(
        session.scalars(
            select(User).where(User.community_id == community_id).order_by(User.username)
        )
    )


def community_user(session: Session, community_id: int, user_id: int) -> User | None:
    """User ``user_id`` if it belongs to community ``community_id``, else None."""
    user = session.get(User, user_id)
    return user if user is not None and user.community_id == community_id else None
