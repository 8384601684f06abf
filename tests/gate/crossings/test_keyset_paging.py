"""Keyset paging (gate.paging): every row exactly once, newest first, ties broken by id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import make_crossing, make_device
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.audit.models import AuditEvent
from gate.audit.operations import record_event
from gate.community.models import Community
from gate.crossings.models import Crossing
from gate.devices.models import Device
from gate.paging import Cursor, PagingError, keyset_page

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _all_pages(session: Session, community_id: int, size: int) -> list[list[int]]:
    query = select(Crossing).where(Crossing.community_id == community_id)
    pages: list[list[int]] = []
    token: str | None = None
    while True:
        page = keyset_page(
            session,
            query,
            at_column=Crossing.scanned_at,
            id_column=Crossing.id,
            token=token,
            size=size,
        )
        pages.append([c.id for c in page.items])
        if page.next_token is None:
            return pages
        token = page.next_token


@pytest.mark.parametrize("size", [1, 3, 4, 5, 23, 50])
def test_pages_visit_every_row_once_in_newest_first_order_with_ties(
    db_session: Session, device: Device, size: int
) -> None:
    # 23 rows; runs of four share a scan time, so page boundaries fall inside ties
    rows = [
        make_crossing(db_session, device, scanned_at=T0 + timedelta(minutes=n // 4))
        for n in range(23)
    ]
    other = make_device(db_session)  # another community's rows never show up
    make_crossing(db_session, other, scanned_at=T0)

    pages = _all_pages(db_session, device.gate.community_id, size)

    visited = [row_id for page in pages for row_id in page]
    expected = [c.id for c in sorted(rows, key=lambda c: (c.scanned_at, c.id), reverse=True)]
    assert visited == expected
    assert len(set(visited)) == len(rows)
    assert all(len(page) <= size for page in pages)
    assert pages[-1] or len(pages) == 1


def test_rows_added_while_paging_do_not_shift_later_pages(
    db_session: Session, device: Device
) -> None:
    rows = [
        make_crossing(db_session, device, scanned_at=T0 + timedelta(seconds=n)) for n in range(6)
    ]
    query = select(Crossing).where(Crossing.community_id == device.gate.community_id)
    first = keyset_page(
        db_session, query, at_column=Crossing.scanned_at, id_column=Crossing.id, token=None, size=3
    )
    make_crossing(db_session, device, scanned_at=T0 + timedelta(hours=1))  # newest, arrives now
    second = keyset_page(
        db_session,
        query,
        at_column=Crossing.scanned_at,
        id_column=Crossing.id,
        token=first.next_token,
        size=3,
    )
    assert [c.id for c in second.items] == [r.id for r in rows[2::-1]]
    assert second.next_token is None


def test_audit_events_page_on_created_at(db_session: Session, community: Community) -> None:
    events = []
    for n in range(7):
        event = record_event(db_session, actor="t", action="x.y", community_id=community.id)
        event.created_at = T0 + timedelta(minutes=n // 3)
        events.append(event)
    db_session.flush()
    query = select(AuditEvent).where(AuditEvent.community_id == community.id)
    seen: list[int] = []
    token = None
    while True:
        page = keyset_page(
            db_session,
            query,
            at_column=AuditEvent.created_at,
            id_column=AuditEvent.id,
            token=token,
            size=2,
        )
        seen += [e.id for e in page.items]
        if page.next_token is None:
            break
        token = page.next_token
    assert sorted(seen) == sorted(e.id for e in events)
    assert len(seen) == len(set(seen))


def test_token_round_trips_and_is_opaque() -> None:
    cursor = Cursor(T0 + timedelta(microseconds=123), 42)
    token = cursor.encode()
    assert "|" not in token
    assert "42" not in token
    assert Cursor.decode(token) == cursor


@pytest.mark.parametrize("token", ["", "%%%", "bm90LWEtY3Vyc29y", "MjAyNi0xMS0yMlQwMTowMDowMHx4"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(PagingError):
        Cursor.decode(token)
