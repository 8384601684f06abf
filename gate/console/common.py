"""What every console view needs: the community in scope, lookups that 404 across
communities, the actor's name, the clock, the UI language."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import abort
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.app import services
from gate.community.models import Community
from gate.households.models import Household
from gate.households.operations import normalise_household_code
from gate.web.auth import current_community_id


def not_found() -> NoReturn:
    """404: also what a user of another community gets, so ids reveal nothing."""
    abort(404)


def community(session: Session) -> Community:
    """The community the logged-in user works in."""
    row = session.get(Community, current_community_id())
    if row is None:
        not_found()
    return row


def household_or_404(session: Session, code: str) -> Household:
    """Household ``code`` of the user's community, else 404. The code is tried as given
    (links carry the stored code) and in its normalised form (what an import stores)."""
    row = session.scalar(
        select(Household)
        .where(
            Household.community_id == current_community_id(),
            Household.code.in_({code, normalise_household_code(code)}),
        )
        .limit(1)
    )
    if row is None:
        not_found()
    return row


def owned_or_404(session: Session, model: type[Any], row_id: int) -> Any:
    """Row ``row_id`` of ``model`` (which has a ``community_id``) if it is the user's
    community's, else 404."""
    row = session.get(model, row_id)
    if row is None or row.community_id != current_community_id():
        not_found()
    return row


def actor() -> str:
    """The audit name of the logged-in user."""
    return str(current_user.username)


def now() -> datetime:
    """The server's now (aware UTC)."""
    return services().clock()


def zone(row: Community) -> ZoneInfo:
    return ZoneInfo(row.timezone)


def lang() -> str:
    """``"zh"`` or ``"en"``: which of a bilingual message pair to show."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def pick(message_zh: str, message_en: str) -> str:
    """The message in the UI language."""
    return message_en if lang() == "en" else message_zh


def attachment(filename: str) -> str:
    """A Content-Disposition value for ``filename`` (which may be Chinese)."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
