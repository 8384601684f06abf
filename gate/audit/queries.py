"""Reading the audit trail: a community's events, filtered and keyset-paged (newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.paging import DEFAULT_PAGE_SIZE, Page, keyset_page


@dataclass(frozen=True)
class AuditFilter:
    """Which events to show. ``actors``: the stored forms of one actor, any of which matches
    (``user:5`` and ``wang`` are both the account wang; empty: anyone). ``action``: a full
    name (``household.exempt``) matches exactly, a bare prefix (``household``) every action
    under it. ``start``/``end``: ``[start, end)`` in aware UTC (the caller turns local days
    into instants)."""

    actors: tuple[str, ...] = ()
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def audit_trail_page(
    session: Session,
    community_id: int,
    wanted: AuditFilter,
    *,
    token: str | None,
    size: int = DEFAULT_PAGE_SIZE,
) -> Page[AuditEvent]:
    """The page of ``community_id``'s events matching ``wanted`` after ``token``.

    Raises :class:`gate.paging.PagingError` for a token this module did not hand out.
    """
    query = select(AuditEvent).where(AuditEvent.community_id == community_id)
    if wanted.actors:
        query = query.where(AuditEvent.actor.in_(wanted.actors))
    if wanted.action:
        query = query.where(
            AuditEvent.action == wanted.action
            if "." in wanted.action
            else AuditEvent.action.startswith(wanted.action + ".", autoescape=True)
        )
    if wanted.start is not None:
        query = query.where(AuditEvent.created_at >= wanted.start)
    if wanted.end is not None:
        query = query.where(AuditEvent.created_at < wanted.end)
    return keyset_page(
        session,
        query,
        at_column=AuditEvent.created_at,
        id_column=AuditEvent.id,
        token=token,
        size=size,
    )
