"""Creating a community from nothing: the first step of a real site (no demo needed).

A community's id travels inside every pass (32 bits), so it is chosen here once: random,
unused, never 0. Its code is the short name the CLI's ``--community`` takes.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.operations import record_event
from gate.community.models import Community
from gate.community.models import RuleSet as RuleSetRecord
from gate.db import U32_MAX
from gate.errors import N_, CodedError
from passes import RuleSet

CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


SETUP_MESSAGES: dict[str, str] = {
    "bad_name": N_("A community needs a name (1-100 characters)."),
    "bad_code": N_(
        "A community code is 1-32 characters: lower-case letters a-z, digits, '-' or '_'."
    ),
    "code_taken": N_("The community code %(code)s is already taken."),
    "bad_timezone": N_("Unknown time zone %(timezone)s (e.g. Asia/Shanghai)."),
}


class SetupError(CodedError, ValueError):
    """Creating a community was refused: a stable ``code`` and its message's ``params``."""

    messages = SETUP_MESSAGES


def create_community(
    session: Session,
    *,
    name: str,
    timezone: str,
    code: str | None,
    actor: str,
    now: datetime,
) -> Community:
    """Create a community with the default rules (version 1) in ``timezone``.

    ``code`` defaults to ``c<id>``. Raises :class:`SetupError` (``bad_name``, ``bad_code``,
    ``code_taken``, ``bad_timezone``). Audited as ``community.create``.
    """
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise SetupError("bad_name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetupError("bad_timezone", timezone=timezone) from None
    community_id = _free_id(session)
    code = (code or f"c{community_id}").strip().lower()
    if not CODE_PATTERN.fullmatch(code):
        raise SetupError("bad_code")
    if session.scalar(select(Community.id).where(Community.code == code)) is not None:
        raise SetupError("code_taken", code=code)
    community = Community(
        id=community_id, name=name, code=code, timezone=timezone, current_rule_version=1
    )
    session.add(community)
    session.flush()
    rules = RuleSet(version=1, timezone=timezone)
    session.add(
        RuleSetRecord(
            community_id=community.id, version=1, rules_json=rules.to_json(), created_by=actor
        )
    )
    record_event(
        session,
        actor=actor,
        action="community.create",
        community_id=community.id,
        subject_type="community",
        subject_id=community.code,
        details={"name": name, "timezone": timezone, "at": now.isoformat()},
    )
    session.flush()
    return community


def all_communities(session: Session) -> list[Community]:
    """Every community, by code."""
    return list(session.scalars(select(Community).order_by(Community.code)))


def _free_id(session: Session) -> int:
    while True:
        candidate = secrets.randbelow(U32_MAX) + 1
        if session.get(Community, candidate) is None:
            return candidate
