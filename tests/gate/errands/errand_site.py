"""A compound for the errand tests: households (the first in home quarantine), office,
supervisor, auditor and two volunteer accounts, served by a real app (CSRF off)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from api_helpers import Compound, add_console_users, build_compound, console_client
from flask.testing import FlaskClient
from sqlalchemy import select

from gate.accounts.models import Role
from gate.audit.models import AuditEvent
from gate.db import transaction
from gate.errands.models import Errand
from gate.households.models import Household
from gate.translations.catalog import _read_po, po_path
from passes.state import HouseholdStatus

PASSWORD = "correct-horse-battery"
ZH = {"Accept-Language": "zh-CN"}
USERS = [
    ("office1", Role.OFFICE, "王干事"),
    ("sup1", Role.SUPERVISOR, "刘网格员"),
    ("aud1", Role.AUDITOR, "审计员"),
    ("vol1", Role.VOLUNTEER, "李阿姨"),
    ("vol2", Role.VOLUNTEER, "赵师傅"),
]


@contextmanager
def errand_compound(
    db_url: str, directory: Path, *, open_ended: bool = False
) -> Iterator[Compound]:
    """Three households; the first in home quarantine for a week of the fake clock (with
    ``open_ended``: without an end, for the CLI, which reads the real clock); the accounts
    of USERS."""
    built = build_compound(db_url, directory, households=3)
    add_console_users(built, PASSWORD, USERS)
    with transaction(built.sessions) as session:
        household = session.get(Household, built.residents[0].household_id)
        assert household is not None
        household.status = HouseholdStatus.QUARANTINED
        week = built.clock() + timedelta(days=7)
        household.quarantine_until = None if open_ended else week
    try:
        yield built
    finally:
        built.dispose()


def client(compound: Compound, username: str) -> FlaskClient:
    answer: FlaskClient = console_client(compound, username, PASSWORD)
    answer.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    return answer


def errands(compound: Compound) -> list[Errand]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = list(session.scalars(select(Errand).order_by(Errand.id)))
        for row in rows:
            session.expunge(row)
        return rows


def events(compound: Compound, prefix: str = "errand.") -> list[tuple[str, dict[str, Any]]]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id)
        )
        return [(row.action, json.loads(row.details_json)) for row in rows]


def said(text: str, english: str) -> bool:
    """Whether ``text`` carries the message whose id contains ``english``, in English or as
    the Chinese catalogue words it."""
    if english in text:
        return True
    catalogue = _read_po(po_path("zh_Hans_CN"), "zh_Hans_CN")
    wanted = [
        message.string
        for message in catalogue
        if isinstance(message.id, str) and english in message.id and message.string
    ]
    pieces = [re.split(r"%\(\w+\)[sd]", value) for value in wanted]
    return any(max(parts, key=len).strip() in text for parts in pieces)
