"""What every console view needs: the request's session, the community in scope, lookups
that 404 across communities, the actor's name, the clock, the UI language."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import abort
from flask_login import current_user

from gate.community.models import Community
from gate.community.queries import community_by_id, owned_row
from gate.households.models import Household
from gate.households.queries import household_by_code
from gate.services import now as server_now
from gate.unit_of_work import DbSession
from gate.web.auth import current_community_id
from gate.web.i18n import is_chinese
from gate.web.unit_of_work import db_session

_Row = TypeVar("_Row")

__all__ = [
    "actor",
    "attachment",
    "community",
    "db_session",
    "household_or_404",
    "lang",
    "not_found",
    "now",
    "owned_or_404",
    "zone",
]


def not_found() -> NoReturn:
    """404: also what a user of another community gets, so ids reveal nothing."""
    abort(404)


def community(session: DbSession | None = None) -> Community:
    """The community the logged-in user works in (read through the request's session)."""
    row = community_by_id(session or db_session(), current_community_id())
    if row is None:
        not_found()
    return row


def household_or_404(session: DbSession | None, code: str) -> Household:
    """Household ``code`` of the user's community, else 404."""
    row = household_by_code(session or db_session(), current_community_id(), code)
    if row is None:
        not_found()
    return row


def owned_or_404(session: DbSession | None, model: type[_Row], row_id: int) -> _Row:
    """Row ``row_id`` of ``model`` if it is the user's community's, else 404."""
    row = owned_row(session or db_session(), model, row_id, current_community_id())
    if row is None:
        not_found()
    return row


def actor() -> str:
    """The audit name of the logged-in user."""
    return str(current_user.username)


def now() -> datetime:
    """The server's now (aware UTC)."""
    return server_now()


def zone(row: Community) -> ZoneInfo:
    return ZoneInfo(row.timezone)


def lang() -> str:
    """``"zh"`` or ``"en"``: the UI language (chosen by ``gate.web.i18n``)."""
    return "zh" if is_chinese() else "en"


def attachment(filename: str) -> str:
    """A Content-Disposition value for ``filename`` (which may be Chinese)."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
