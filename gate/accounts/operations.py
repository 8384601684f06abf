"""Account operations: create users, change role or password, disable, and log in.

Every write flushes, never commits (one transaction per request or CLI job). Changing a
user's role or password, or disabling them, bumps ``session_version``: the web layer keeps
the version in the login session and drops sessions whose version is stale.

Logging in runs in three steps so that argon2 never runs inside a transaction (on SQLite a
writing one holds the database's write lock, and scans would wait): :func:`check_login`
reads the throttle state and the user, :func:`verify_login` checks the password with no
database at all, :func:`record_login` records the attempt in a short write.

Login throttling, counted separately per username and per client address: after
``max_failures`` failures within ``window_seconds`` for a username (from any address), or
after ten times as many from one address (over all usernames, which a compound office's
NAT address must be allowed to have), further attempts are refused without checking the
password and without being recorded (so an attacker cannot extend a lock-out forever: the
window simply runs out); the refusal says how long is left. A username that logged in from
an address before is held only by its own limit there.

Logging out ends every session of the user (:func:`log_out`, ``session_version``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from gate.accounts.models import LoginAttempt, Role, User
from gate.accounts.passwords import (
    PasswordPolicyError,
    burn_time,
    check_policy,
    generated_spelling,
    hash_password,
    needs_rehash,
    verify_password,
)
from gate.audit.operations import record_event
from gate.community.models import Community
from gate.errors import N_, CodedError

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
"""Usernames: 2-64 lower-case ASCII letters, digits, ``.``, ``_``, ``-``; alphanumeric first."""
USERNAME_COLUMN = 64
REMOTE_ADDR_COLUMN = 64
ADDRESS_LIMIT_FACTOR = 10
"""An address is throttled after this many times the per-username failure limit."""


ACCOUNT_MESSAGES: dict[str, str] = {
    "bad_username": N_("A username is 2-64 characters: letters a-z, digits, '.', '_' or '-'."),
    "username_taken": N_("The username %(username)s is already taken."),
    "too_short": N_("The password must have at least %(min_length)d characters."),
    "too_long": N_("The password must have at most %(max_length)d characters."),
    "same_as_username": N_("The password must not be the username."),
    "contains_username": N_("The password must not contain the username."),
    "too_simple": N_(
        "The password is too simple: no repeated characters or sequences such as 1234567890."
    ),
    "too_common": N_(
        "The password is one of the most common passwords: choose one that is hard to guess, "
        "for example several unrelated words."
    ),
    "home_community": N_(
        "This is the user's own community: change the role there, or disable the user."
    ),
}
"""The English message id of each :class:`AccountError` code (parameters: its ``params``)."""


class AccountError(CodedError, ValueError):
    """An account change was refused: a stable ``code`` and the ``params`` of its message.

    Entry points show ``gettext(ACCOUNT_MESSAGES[code], **params)``; :attr:`message` is the
    untranslated English text (logs, tests).
    """

    messages = ACCOUNT_MESSAGES


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: the user, or why it was refused.

    ``refusal``: None (logged in), ``throttled``, ``bad_credentials`` or ``disabled``;
    ``wait_seconds``: for ``throttled``, how long until the next attempt may be checked.
    Not an exception: the caller must commit the recorded failure, not roll it back.
    """

    user: User | None
    refusal: str | None
    wait_seconds: int = 0


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures within how many seconds lock a username, or an address, out.

    ``max_failures`` per username (from any address); ``address_max_failures`` per client
    address over all usernames (default ten times as many: a compound office behind one NAT
    address must not lock every colleague out because one of them mistyped five times).
    A username that logged in successfully from an address within ``known_seconds`` is not
    held by that address's limit (only by its own).
    """

    max_failures: int
    window_seconds: int
    address_max_failures: int | None = None
    known_seconds: int = 30 * 24 * 3600

    @property
    def address_limit(self) -> int:
        """Failures from one address, over all usernames, that throttle the address."""
        if self.address_max_failures is not None:
            return self.address_max_failures
        return self.max_failures * ADDRESS_LIMIT_FACTOR


@dataclass(frozen=True)
class LoginCheck:
    """What the read step of a login found (no transaction is needed to use it).

    ``wait_seconds`` > 0: throttled, nothing else was read. Otherwise the user's id, stored
    hash and whether they are disabled (``user_id`` None: no such user).
    """

    username: str
    remote_addr: str | None
    wait_seconds: int
    user_id: int | None = None
    password_hash: str | None = None
    disabled: bool = False


@dataclass(frozen=True)
class LoginVerdict:
    """What checking the password found: ``ok``, ``bad_credentials`` or ``disabled``, and a
    new hash when the stored one was made with older argon2 parameters."""

    outcome: str
    new_hash: str | None = None


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


def check_new_password(password: str, *, username: str) -> None:
    """Raise :class:`AccountError` (the password policy's code) unless ``password`` may be
    ``username``'s new password. No database, no hashing: a form checks it before hashing."""
    _check_password(password, normalize_username(username))


def change_own_password(session: Session, check: LoginCheck, new_hash: str) -> User | None:
    """Give the user that :func:`check_login` read (and whose current password
    :func:`verify_login` accepted) the password hashed as ``new_hash``, and end their
    sessions. Audited as ``user.password`` with the user as the actor.

    ``new_hash`` is made by the caller outside any transaction (argon2 must not hold
    SQLite's write lock) from a password that passed :func:`check_new_password`. Returns
    None, changing nothing, when the user's password or state changed since the check
    (another change won the race, or the user was disabled).
    """
    user = session.get(User, check.user_id) if check.user_id is not None else None
    if user is None or user.password_hash != check.password_hash or user.disabled_at is not None:
        return None
    user.password_hash = new_hash
    end_sessions(user)
    session.flush()
    _audit(session, user, user.username, "user.password")
    return user


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


def log_out(session: Session, user_id: int, *, session_version: int) -> None:
    """End the login session of user ``user_id`` that carries ``session_version``.

    A signed session cookie cannot be taken back, so logging out ends every session of the
    user (their other browsers too): a copied cookie never opens a page again. A version
    that is already stale changes nothing (the session had ended).
    """
    user = session.get(User, user_id)
    if user is None or (user.session_version or 0) != session_version:
        return
    end_sessions(user)
    session.flush()


def log_in(
    session: Session,
    *,
    username: str,
    password: str,
    remote_addr: str | None,
    now: datetime,
    policy: LoginPolicy,
) -> LoginResult:
    """Check a login attempt and record it in ``session`` (flushed: the caller commits).

    The three steps of a login in one session, for the CLI and tests. The web login runs
    them apart (:func:`check_login`, :func:`verify_login`, :func:`record_login`) so that
    argon2 never runs while a transaction, let alone the write lock, is open.
    """
    check = check_login(session, username=username, remote_addr=remote_addr, now=now, policy=policy)
    if check.wait_seconds:
        return LoginResult(None, "throttled", check.wait_seconds)
    verdict = verify_login(check, password)
    return record_login(session, check, verdict, now=now, policy=policy)


def check_login(
    session: Session,
    *,
    username: str,
    remote_addr: str | None,
    now: datetime,
    policy: LoginPolicy,
) -> LoginCheck:
    """The read step of a login: the throttle state, then the user (reads only)."""
    name = normalize_username(username)[:USERNAME_COLUMN]
    address = remote_addr[:REMOTE_ADDR_COLUMN] if remote_addr else None
    wait = throttle_wait(session, username=name, remote_addr=address, now=now, policy=policy)
    if wait:
        return LoginCheck(name, address, wait)
    user = find_user(session, name)
    if user is None:
        return LoginCheck(name, address, 0)
    return LoginCheck(
        name,
        address,
        0,
        user_id=user.id,
        password_hash=user.password_hash,
        disabled=user.disabled_at is not None,
    )


def verify_login(check: LoginCheck, password: str) -> LoginVerdict:
    """Check ``password`` against what :func:`check_login` read: argon2, no database.

    A generated password (``k7mx-3hqa-vw9e-p2rt-u8nd``) is accepted typed without its
    dashes, with spaces, or in capitals: a ``password`` that spells one another way is
    verified as typed and, failing that, in the generated form
    (:func:`~gate.accounts.passwords.generated_spelling`: one more candidate, so a guess is
    worth at most two, and a password a person chose is only ever matched exactly). An
    unknown user costs the time of the same verifications too. A right password whose hash was
    made with older parameters comes back with its new hash (made here, outside any
    transaction).
    """
    spelled = generated_spelling(password)
    if check.password_hash is None:
        burn_time(password)
        if spelled is not None:
            burn_time(spelled)
        return LoginVerdict("bad_credentials")
    if not verify_password(check.password_hash, password):
        if spelled is None or not verify_password(check.password_hash, spelled):
            return LoginVerdict("bad_credentials")
        password = spelled
    if check.disabled:
        return LoginVerdict("disabled")
    new_hash = hash_password(password) if needs_rehash(check.password_hash) else None
    return LoginVerdict("ok", new_hash)


def record_login(
    session: Session,
    check: LoginCheck,
    verdict: LoginVerdict,
    *,
    now: datetime,
    policy: LoginPolicy,
) -> LoginResult:
    """The write step of a login: record the attempt (a short write, flushed).

    The throttle is counted again first: attempts checked in parallel may have reached the
    limit meanwhile, and then this one is refused ``throttled`` and not recorded (whatever
    its password). A success whose user changed meanwhile (other hash, disabled) is refused
    ``bad_credentials`` / ``disabled``.
    """
    wait = throttle_wait(
        session, username=check.username, remote_addr=check.remote_addr, now=now, policy=policy
    )
    if wait:
        return LoginResult(None, "throttled", wait)
    outcome = verdict.outcome
    user = session.get(User, check.user_id) if check.user_id is not None else None
    if outcome == "ok":
        if user is None or user.password_hash != check.password_hash:
            outcome = "bad_credentials"
        elif user.disabled_at is not None:
            outcome = "disabled"
    session.add(
        LoginAttempt(
            username=check.username,
            remote_addr=check.remote_addr,
            attempted_at=now,
            success=outcome == "ok",
        )
    )
    if outcome == "ok" and user is not None and verdict.new_hash is not None:
        user.password_hash = verdict.new_hash
    session.flush()
    if outcome != "ok" or user is None:
        return LoginResult(None, outcome)
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
    wait = throttle_wait(
        session, username=username, remote_addr=remote_addr, now=now, policy=policy
    )
    return wait > 0


def throttle_wait(
    session: Session,
    *,
    username: str,
    remote_addr: str | None,
    now: datetime,
    policy: LoginPolicy,
) -> int:
    """Seconds until a login for ``username`` from ``remote_addr`` may be checked (0: now).

    Per username: ``max_failures`` failures within the window, from any address. Per
    address: ``policy.address_limit`` failures over all usernames, unless ``username``
    logged in successfully from that address within ``known_seconds``. The wait runs until
    the oldest failure that still makes up the limit leaves the window.
    """
    since = now - timedelta(seconds=policy.window_seconds)
    limits: list[tuple[ColumnElement[bool], int]] = [
        (LoginAttempt.username == username, policy.max_failures)
    ]
    if remote_addr and not _known_here(session, username, remote_addr, now, policy):
        limits.append((LoginAttempt.remote_addr == remote_addr, policy.address_limit))
    wait = 0
    for criterion, limit in limits:
        oldest = session.scalar(
            select(LoginAttempt.attempted_at)
            .where(criterion, LoginAttempt.success.is_(False), LoginAttempt.attempted_at > since)
            .order_by(LoginAttempt.attempted_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if oldest is not None:
            until = oldest + timedelta(seconds=policy.window_seconds)
            wait = max(wait, 1, math.ceil((until - now).total_seconds()))
    return wait


def _known_here(
    session: Session, username: str, remote_addr: str, now: datetime, policy: LoginPolicy
) -> bool:
    """Whether ``username`` logged in successfully from ``remote_addr`` lately."""
    since = now - timedelta(seconds=policy.known_seconds)
    found = session.scalar(
        select(LoginAttempt.id)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.remote_addr == remote_addr,
            LoginAttempt.success.is_(True),
            LoginAttempt.attempted_at > since,
        )
        .limit(1)
    )
    return found is not None


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


def all_usernames(session: Session) -> list[str]:
    """Every username (taken ones cannot be given again)."""
    return list(session.scalars(select(User.username)))


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
