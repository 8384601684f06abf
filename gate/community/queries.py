"""Reading communities, and rows scoped to one community (for entry points that must not
build queries themselves)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.models import Community, RuleSet

_Row = TypeVar("_Row")


def community_by_id(session: Session, community_id: int) -> Community | None:
    """Community ``community_id``, or None."""
    return session.get(Community, community_id)


def community_ids(session: Session, *, limit: int | None = None) -> list[int]:
    """Ids of the communities in id order (only the first ``limit`` when given)."""
    return list(session.scalars(select(Community.id).order_by(Community.id).limit(limit)))


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


def rule_versions(session: Session, community_id: int, *, limit: int) -> list[RuleSet]:
    """The community's stored rule versions, newest first (at most ``limit``)."""
    return list(
        session.scalars(
            select(RuleSet)
            .where(RuleSet.community_id == community_id)
            .order_by(RuleSet.version.desc())
            .limit(limit)
        )
    )
