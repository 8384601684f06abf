"""The first run in the browser: a one-time setup link while the database has no account.

Like Gitea's install page or Jupyter's token URL: ``checkpoint serve`` on a database
without any account prints ``<base>/setup/<token>``. Only the token's SHA-256 is stored
(:class:`SetupToken`); it expires after :data:`SETUP_TOKEN_TTL` and works once. A new link
replaces any unused one. Whoever opens it creates the first administrator and the
community in one transaction (:func:`complete_first_run`); from then on every setup link
answers "gone" for good, since an account exists.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gate.accounts.models import Role, SetupToken, User
from gate.accounts.operations import (
    USERNAME_PATTERN,
    AccountError,
    check_new_password,
    create_user,
    normalize_username,
)
from gate.community.models import Community
from gate.community.setup import SetupError, create_community
from gate.errors import CodedError

SETUP_TOKEN_TTL = timedelta(hours=24)
"""How long a printed setup link works."""
SETUP_PATH = "/setup/"
"""The path of the setup page; the token follows it."""
ADDRESS_LENGTH = 200


def has_account(session: Session) -> bool:
    """Whether any account exists (then the first run is over, for good)."""
    return session.scalar(select(User.id).limit(1)) is not None


def token_hash(token: str) -> str:
    """The stored form of a setup token."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def issue_setup_token(session: Session, *, now: datetime) -> str | None:
    """A new setup token (flushed), replacing every unused one; None when an account
    exists already (the first run is over)."""
    if has_account(session):
        return None
    session.execute(delete(SetupToken).where(SetupToken.used_at.is_(None)))
    token = secrets.token_urlsafe(32)
    session.add(
        SetupToken(token_hash=token_hash(token), created_at=now, expires_at=now + SETUP_TOKEN_TTL)
    )
    session.flush()
    return token


def setup_token_state(session: Session, token: str, *, now: datetime) -> str:
    """``valid``, ``unknown`` (no such token: 404) or ``gone`` (used, expired, or an
    account exists: 410)."""
    if has_account(session):
        return "gone"
    row = session.scalar(select(SetupToken).where(SetupToken.token_hash == token_hash(token)))
    if row is None:
        return "unknown"
    if row.used_at is not None or row.expires_at <= now:
        return "gone"
    return "valid"


@dataclass(frozen=True)
class FirstRun:
    """What the setup page's first step asks: the first administrator and the community."""

    username: str
    display_name: str
    password: str
    community_name: str
    timezone: str
    address: str = ""
    community_code: str | None = None


class SetupClosed(Exception):
    """The setup link no longer works (used, expired, or an account exists)."""


def complete_first_run(
    session: Session, token: str, first: FirstRun, *, now: datetime
) -> tuple[User, Community]:
    """Use ``token`` once: create the community and its first administrator (flushed; the
    caller commits both or neither).

    Raises :class:`SetupClosed` when the token is not valid (also for the second of two
    simultaneous submissions: the token is claimed with a conditional update), and the
    community's ``SetupError`` or the account's ``AccountError`` for bad input (then the
    caller must roll back).
    """
    if setup_token_state(session, token, now=now) != "valid":
        raise SetupClosed
    claimed = session.execute(
        update(SetupToken)
        .where(SetupToken.token_hash == token_hash(token), SetupToken.used_at.is_(None))
        .values(used_at=now)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        raise SetupClosed
    actor = f"setup:{first.username.strip().lower()}"[:64]
    community = create_community(
        session,
        name=first.community_name,
        timezone=first.timezone,
        code=first.community_code,
        actor=actor,
        now=now,
    )
    community.address = first.address.strip()[:ADDRESS_LENGTH] or None
    user = create_user(
        session,
        community_id=community.id,
        username=first.username,
        password=first.password,
        role=Role.ADMIN,
        actor=actor,
        display_name=first.display_name or None,
    )
    session.flush()
    return user, community


COMMON_TIMEZONES = (
    "Asia/Shanghai",
    "Asia/Urumqi",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
    "UTC",
)
"""The time zones the setup page offers, China's first (any other IANA name is accepted)."""
_BEIJING_TIME_NAMES = (
    "北京时间", "北京", "中国", "中国时间", "中国标准时间", "东八区", "东八",
    "china", "beijing", "prc", "utc+8", "gmt+8", "utc+08", "gmt+08", "utc+8:00",
    "utc+08:00", "gmt+8:00", "gmt+08:00", "+8", "+08", "+08:00", "+0800", "utc+0800",
)  # fmt: skip
_TIMEZONE_ALIASES = dict.fromkeys(_BEIJING_TIME_NAMES, "Asia/Shanghai")


def normalise_timezone(text: str) -> str:
    """The IANA name of a time zone as a person may type it: ``北京时间``, ``UTC+8``,
    ``东八区`` (and spaces, full-width characters, any case) are ``Asia/Shanghai``; anything
    else is returned trimmed, to be checked as an IANA name."""
    raw = unicodedata.normalize("NFKC", text).strip()
    key = "".join(raw.split()).lower()
    return _TIMEZONE_ALIASES.get(key, raw)


def first_run_problems(first: FirstRun) -> dict[str, CodedError]:
    """Every problem :func:`complete_first_run` would refuse ``first`` for, at once, by the
    field it is about (``username``, ``password``, ``community_name``, ``timezone``), so the
    page can show them all in one round. Reads nothing, writes nothing."""
    problems: dict[str, CodedError] = {}
    username = normalize_username(first.username)
    if username and not USERNAME_PATTERN.fullmatch(username):
        problems["username"] = AccountError("bad_username")
    if first.password:
        try:
            check_new_password(first.password, username=username)
        except AccountError as exc:
            problems["password"] = exc
    name = first.community_name.strip()
    if name and len(name) > 100:
        problems["community_name"] = SetupError("bad_name")
    if first.timezone and not _known_timezone(first.timezone):
        problems["timezone"] = SetupError("bad_timezone", timezone=first.timezone)
    return problems


def _known_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def setup_link_if_needed(session: Session, base_url: str, *, now: datetime) -> str | None:
    """The first run's setup link under ``base_url`` (a new token, flushed: the caller
    commits), or None when an account exists."""
    token = issue_setup_token(session, now=now)
    if token is None:
        return None
    return f"{base_url.rstrip('/')}{SETUP_PATH}{token}"
