"""Reading communities, and rows scoped to one community (for entry points that must not
build queries themselves)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.models import Community

_Row = TypeVar("_Row")


def community_by_id(session: Session, community_id: int) -> Community | None:
    """Community ``community_id``, or None."""
    return session.get(Community, community_id)


def owned_row(session: Session, model: type[_Row], row_id: int, community_id: int) -> _Row | None:
    """Row ``row_id`` of ``model`` (a model with a ``community_id`` column) if it belongs to
    ``community_id``, else None: ids of another community reveal nothing."""
    row: Any = session.get(model, row_id)
    if row is None or row.community_id != community_id:
        return None
    return row  # type: ignore[no-any-return]


def has_community(session: Session) -> bool:
    """Whether the database holds any community yet (a fresh install holds none)."""
    return session.scalar(select(Community.id).limit(1)) is not None
