"""The phones' records (``gate.devices.phones``) on SQLite and PostgreSQL: header values read
strictly, the write due only when something changed or a minute passed, one upsert per
call, the listing per community and gate within 30 days, and each phone's state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from factories import make_community, make_gate, make_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from gate.community.models import Community
from gate.crossings.dashboard import OFFLINE_AFTER
from gate.devices.models import PhoneGate
from gate.devices.phones import (
    PhoneSeen,
    backlog_of,
    pending_contact,
    phone_id_of,
    phone_state,
    phones_by_gate,
    record_contact,
)

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_phone_ids_are_canonical_uuids_only() -> None:
    made = str(uuid.uuid4())
    assert phone_id_of(made) == made
    assert phone_id_of(made.upper()) == made
    for bad in (
        None,
        "",
        "x" * 36,
        made[:-1],
        "{" + made[1:-1] + "}",
        made.replace("-", ""),
        "urn:uuid:" + made,
        made + " ",
        "１" + made[1:],
    ):
        assert phone_id_of(bad) is None, bad


def test_backlogs_are_plain_counts_up_to_a_million() -> None:
    assert [backlog_of(v) for v in ("0", "17", "1000000", "0000005")] == [0, 17, 1_000_000, 5]
    for bad in (None, "", "-1", "1000001", "99999999", "1.5", "+3", " 3", "３", "1e3"):
        assert backlog_of(bad) is None, bad


def _contact(session: Session, community: Community, phone: str | None, **over: object) -> object:
    values: dict[str, object] = {
        "community_id": community.id,
        "phone_id": phone,
        "gate_id": None,
        "user_id": 0,
        "backlog": None,
        "now": NOW,
    }
    values.update(over)
    return pending_contact(session, **values)  # type: ignore[arg-type]


def test_a_write_is_due_when_new_changed_or_a_minute_old(db_session: Session) -> None:
    community = make_community(db_session)
    gate, other_gate = make_gate(db_session, community), make_gate(db_session, community)
    user = make_user(db_session, community)
    phone = str(uuid.uuid4())
    assert _contact(db_session, community, None, gate_id=gate.id, user_id=user.id) is None
    # Never seen and no gate known: nothing to list it under, nothing written.
    assert _contact(db_session, community, phone, user_id=user.id, backlog=3) is None
    first = pending_contact(
        db_session,
        community_id=community.id,
        phone_id=phone,
        gate_id=gate.id,
        user_id=user.id,
        backlog=3,
        now=NOW,
    )
    assert first is not None
    record_contact(db_session, first)
    same = {"gate_id": gate.id, "user_id": user.id, "backlog": 3}
    assert _contact(db_session, community, phone, now=NOW + timedelta(seconds=59), **same) is None
    # No gate chosen and no backlog sent: the ones on record, so nothing changed.
    assert _contact(db_session, community, phone, user_id=user.id) is None
    assert _contact(db_session, community, phone, now=NOW + timedelta(seconds=60), **same)
    assert _contact(db_session, community, phone, now=NOW - timedelta(seconds=1), **same)
    assert _contact(db_session, community, phone, **{**same, "backlog": 0})
    assert _contact(db_session, community, phone, **{**same, "gate_id": other_gate.id})
    other_user = make_user(db_session, community)
    moved = pending_contact(
        db_session,
        community_id=community.id,
        phone_id=phone,
        gate_id=None,
        user_id=other_user.id,
        backlog=None,
        now=NOW + timedelta(seconds=5),
    )
    assert moved is not None
    assert (moved.gate_id, moved.backlog) == (gate.id, 3)  # kept from the record
    record_contact(db_session, moved)
    rows = db_session.execute(select(PhoneGate.__table__)).all()
    assert [tuple(r) for r in rows] == [
        (community.id, phone, gate.id, other_user.id, NOW + timedelta(seconds=5), 3)
    ]


def test_the_same_phone_id_in_two_communities_is_two_phones(db_session: Session) -> None:
    phone = str(uuid.uuid4())
    listed = []
    for backlog in (1, 2):
        community = make_community(db_session)
        gate, user = make_gate(db_session, community), make_user(db_session, community)
        contact = pending_contact(
            db_session,
            community_id=community.id,
            phone_id=phone,
            gate_id=gate.id,
            user_id=user.id,
            backlog=backlog,
            now=NOW,
        )
        assert contact is not None
        record_contact(db_session, contact)
        listed.append((community.id, gate.id, user.id))
    for (community_id, gate_id, user_id), backlog in zip(listed, (1, 2), strict=True):
        assert phones_by_gate(db_session, community_id, NOW) == {
            gate_id: [PhoneSeen(phone, gate_id, user_id, NOW, backlog)]
        }


def test_the_listing_is_by_gate_latest_first_within_30_days(db_session: Session) -> None:
    community = make_community(db_session)
    north, south = make_gate(db_session, community), make_gate(db_session, community)
    user = make_user(db_session, community)
    ages = {"a": (north, 1), "b": (north, 0), "c": (south, 40 * 24 * 60), "d": (south, 5)}
    ids = {}
    for name, (gate, minutes) in ages.items():
        ids[name] = str(uuid.uuid4())
        contact = pending_contact(
            db_session,
            community_id=community.id,
            phone_id=ids[name],
            gate_id=gate.id,
            user_id=user.id,
            backlog=None,
            now=NOW - timedelta(minutes=minutes),
        )
        assert contact is not None
        record_contact(db_session, contact)
    listed = phones_by_gate(db_session, community.id, NOW)
    assert {g: [p.phone_id for p in phones] for g, phones in listed.items()} == {
        north.id: [ids["b"], ids["a"]],
        south.id: [ids["d"]],
    }


@pytest.mark.parametrize(
    ("minutes", "backlog", "state"),
    [
        (0, None, "normal"),
        (0, 0, "normal"),
        (4, 9, "normal"),  # calling: it is uploading them
        (5, 9, "unsent"),
        (5, 0, "normal"),
        (14, None, "normal"),
        (15, 0, "offline"),
        (15, None, "offline"),
        (600, 1, "unsent"),
    ],
)
def test_a_phones_state(minutes: int, backlog: int | None, state: str) -> None:
    phone = PhoneSeen("p", 1, 1, NOW - timedelta(minutes=minutes), backlog)
    assert phone_state(phone, NOW, offline_after=OFFLINE_AFTER) == state
