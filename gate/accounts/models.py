"""Users of the office and gate web UI, their roles per community, login attempts for
throttling, and the one-time token of the first run's setup page."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, BigIntPK, UTCDateTime, text_enum, utcnow


class Role(StrEnum):
    """What a user may do. Permissions per role are decided in the accounts feature."""

    ADMIN = "admin"
    OFFICE = "office"
    AUDITOR = "auditor"
    SUPERVISOR = "supervisor"
    VOLUNTEER = "volunteer"
    DISTRICT_OFFICE = "district_office"
    """A street office (街道) over several communities: the district overview, read-only pages."""
    DISTRICT_AUDITOR = "district_auditor"
    """An inspector (上级检查) over several communities: verify chains and export, read-only."""


class User(Base):
    """A person who logs in. Every user belongs to one community, its home (``community_id``
    with ``role``); :class:`Membership` rows grant it a role in further communities.

    Users are disabled, never deleted (the logs name them). Bumping ``session_version`` ends
    all of the user's sessions (password change, disable, role change).
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(text_enum(Role, "role"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginAttempt(Base):
    """One login attempt; recent failures per username or address throttle further tries."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index(None, "username", "attempted_at"),
        Index(None, "remote_addr", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)


class Membership(Base):
    """A role of a user in a community other than its home one (a district's account).

    The home community and role stay on :class:`User`; a membership never names the home
    community. Granting or revoking one ends the user's sessions.
    """

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "community_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    community_id: Mapped[int] = mapped_column(U32, ForeignKey("communities.id"), index=True)
    role: Mapped[Role] = mapped_column(text_enum(Role, "role"))
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SetupToken(Base):
    """The one-time token of the first run's setup link (only its SHA-256 is stored).

    Valid while unused, unexpired, and no account exists; used once.
    """

    __tablename__ = "setup_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
