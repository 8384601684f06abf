"""Users of the office and gate web UI, their roles, and login attempts for throttling."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gate.db import U32, Base, BigIntPK, UTCDateTime, text_enum, utcnow


class Role(StrEnum):
    """What a user may do. Permissions per role are decided in the accounts feature."""

    ADMIN = "admin"
    OFFICE = "office"
    AUDITOR = "auditor"
    SUPERVISOR = "supervisor"
    VOLUNTEER = "volunteer"


class User(Base):
    """A person who logs in. Every user belongs to one community.

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
