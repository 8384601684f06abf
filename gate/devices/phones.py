"""Phones used as gates: the office sees them next to the scanners.

A phone gate is the ``/gate`` page on a volunteer's phone. It makes itself a random id once
(kept by the browser, never personal data) and sends it with its count of crossings still
waiting to upload on every bundle fetch and upload (``X-Checkpoint-Phone``,
``X-Checkpoint-Backlog``). The server keeps one :class:`~gate.devices.models.PhoneGate` row
per (community, phone id): its gate, the logged-in account, last contact, last backlog.

Recording is cheap: :func:`pending_contact` reads the row by its key and says whether a write
is due (something changed, or the last contact is a minute old); :func:`record_contact` is
then one INSERT ... ON CONFLICT DO UPDATE. Header values that are not valid are ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gate.devices.models import PhoneGate

PHONE_HEADER = "X-Checkpoint-Phone"
"""The phone's own random id: a UUID in its canonical text form."""
BACKLOG_HEADER = "X-Checkpoint-Backlog"
"""How many crossings the phone holds unsent (as the scanners send it)."""
MAX_BACKLOG = 1_000_000
CONTACT_RESOLUTION = timedelta(seconds=60)
"""``last_seen_at`` is kept to this resolution: the bundle is fetched often."""
LISTED_FOR = timedelta(days=30)
"""A phone not seen for this long is no longer listed."""
BEHIND_AFTER = timedelta(minutes=5)
"""A phone silent this long with crossings unsent is shown as holding unsent crossings (an
online phone uploads them within a minute)."""
PHONE_STATES = ("unsent", "offline", "normal")
"""What the office sees of a phone, most serious first: silent for :data:`BEHIND_AFTER` with
crossings unsent, silent for as long as a scanner is offline, or normal."""

_TABLE = PhoneGate.__table__


def phone_id_of(value: str | None) -> str | None:
    """The phone id of a header value: a UUID in canonical form (lower-cased), else None."""
    if value is None or len(value) != 36 or not value.isascii():
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    text = str(parsed)
    return text if text == value.lower() else None


def backlog_of(value: str | None) -> int | None:
    """The backlog of a header value: plain digits, 0 to :data:`MAX_BACKLOG`, else None."""
    if value is None or not 0 < len(value) <= 7 or not value.isascii() or not value.isdigit():
        return None
    count = int(value)
    return count if count <= MAX_BACKLOG else None


@dataclass(frozen=True)
class PhoneContact:
    """One phone's call to remember (the values of its row)."""

    community_id: int
    phone_id: str
    gate_id: int
    user_id: int
    seen_at: datetime
    backlog: int | None


def pending_contact(
    session: Session,
    *,
    community_id: int,
    phone_id: str | None,
    gate_id: int | None,
    user_id: int,
    backlog: int | None,
    now: datetime,
) -> PhoneContact | None:
    """The write this call needs, or None: no phone id, no gate known yet (neither chosen
    nor on record), or nothing changed and the last contact within
    :data:`CONTACT_RESOLUTION`. Reads one row by its key; writes nothing.

    ``gate_id`` None (the page has not chosen a gate) keeps the gate on record; ``backlog``
    None (not sent, or not valid) keeps the backlog on record."""
    if phone_id is None:
        return None
    row = session.execute(
        select(
            _TABLE.c.gate_id, _TABLE.c.user_id, _TABLE.c.last_seen_at, _TABLE.c.last_backlog
        ).where(_TABLE.c.community_id == community_id, _TABLE.c.phone_id == phone_id)
    ).first()
    if row is None:
        if gate_id is None:
            return None
        return PhoneContact(community_id, phone_id, gate_id, user_id, now, backlog)
    contact = PhoneContact(
        community_id,
        phone_id,
        gate_id if gate_id is not None else row.gate_id,
        user_id,
        now,
        backlog if backlog is not None else row.last_backlog,
    )
    seen: datetime = row.last_seen_at
    changed = (contact.gate_id, contact.user_id, contact.backlog) != (
        row.gate_id,
        row.user_id,
        row.last_backlog,
    )
    stale = not seen <= now < seen + CONTACT_RESOLUTION
    return contact if changed or stale else None


def record_contact(session: Session, contact: PhoneContact) -> None:
    """Store ``contact``: one INSERT ... ON CONFLICT DO UPDATE (flushes, never commits)."""
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "community_id": contact.community_id,
        "phone_id": contact.phone_id,
        "gate_id": contact.gate_id,
        "user_id": contact.user_id,
        "last_seen_at": contact.seen_at,
        "last_backlog": contact.backlog,
    }
    insert = module.insert(_TABLE).values(values)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["community_id", "phone_id"],
            set_={
                name: insert.excluded[name]
                for name in ("gate_id", "user_id", "last_seen_at", "last_backlog")
            },
        )
    )


@dataclass(frozen=True)
class PhoneSeen:
    """A phone as the office sees it (``user_id``: who was logged in at its last call)."""

    phone_id: str
    gate_id: int
    user_id: int
    last_seen_at: datetime
    last_backlog: int | None


def phones_by_gate(
    session: Session, community_id: int, now: datetime
) -> dict[int, list[PhoneSeen]]:
    """The community's phones seen within :data:`LISTED_FOR`, by gate id, latest first."""
    rows = session.execute(
        select(
            _TABLE.c.phone_id,
            _TABLE.c.gate_id,
            _TABLE.c.user_id,
            _TABLE.c.last_seen_at,
            _TABLE.c.last_backlog,
        )
        .where(
            _TABLE.c.community_id == community_id,
            _TABLE.c.last_seen_at >= now - LISTED_FOR,
        )
        .order_by(_TABLE.c.last_seen_at.desc(), _TABLE.c.phone_id)
    )
    phones: dict[int, list[PhoneSeen]] = {}
    for row in rows:
        phones.setdefault(row.gate_id, []).append(PhoneSeen(*row))
    return phones


def phone_state(phone: PhoneSeen, now: datetime, *, offline_after: timedelta) -> str:
    """One of :data:`PHONE_STATES` for ``phone`` at ``now`` (aware UTC); ``offline_after``:
    the silence after which a scanner is offline (the same for phones)."""
    silent = now - phone.last_seen_at
    if phone.last_backlog and silent >= BEHIND_AFTER:
        return "unsent"
    if silent >= offline_after:
        return "offline"
    return "normal"
