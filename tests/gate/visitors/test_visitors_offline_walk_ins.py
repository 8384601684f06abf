"""A walk-in the phone gate registered offline, sent when the network is back (``POST
/gate/walk-in`` with ``registered_at``), on SQLite and PostgreSQL: stored at the phone's time,
its crossing marked offline, replayed once; a phone clock in the future or a week behind is
refused in Chinese and nothing is written."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from api_helpers import Compound, build_compound
from sqlalchemy import Engine, select
from web_helpers import CSRF_META, log_in
from werkzeug.test import TestResponse

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.visitors.models import WalkIn
from passes import format_utc

PASSWORD = "correct horse battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=1)
    try:
        yield built
    finally:
        built.dispose()


def _poster(compound: Compound) -> Callable[[dict[str, object]], TestResponse]:
    username = f"vol-{secrets.token_hex(3)}"
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username=username,
            password=PASSWORD,
            role=Role.VOLUNTEER,
            actor="test",
            display_name="李志愿",
        )
    client = compound.client()
    assert log_in(client, username, PASSWORD).status_code == 302
    found = CSRF_META.search(client.get("/gate").get_data(as_text=True))
    assert found
    csrf = found.group(1)
    return lambda body: client.post("/gate/walk-in", json=body, headers={"X-CSRFToken": csrf})


def _body(compound: Compound, minutes_ago: float, **extra: object) -> dict[str, object]:
    at = (compound.clock() - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    return {
        "id": str(uuid.uuid4()),
        "kind": "delivery",
        "outcome": "handed_over",
        "phone": "13912345678",
        "purpose": "外卖",
        "direction": "in",
        "registered_at": format_utc(at),
        **extra,
    }


def test_a_walk_in_registered_offline_is_stored_at_the_phones_time(compound: Compound) -> None:
    post = _poster(compound)
    body = _body(compound, 42)
    answer = post(body)
    assert answer.status_code == 200, answer.get_json()
    data = answer.get_json()
    assert data["verdict"]["code"] == "handed_over"
    assert data["walk_in"]["phone"] == "139****5678"
    assert "13912345678" not in answer.get_data(as_text=True)
    again = post(body)  # the phone retries after a lost answer: stored once
    assert again.status_code == 200
    assert again.get_json()["replay"] is True
    with transaction(compound.sessions, read_only=True) as session:
        walk_in = session.scalars(select(WalkIn)).one()
        crossing = session.scalars(select(Crossing)).one()
    assert format_utc(walk_in.registered_at) == body["registered_at"]
    assert format_utc(crossing.scanned_at) == body["registered_at"]
    assert (crossing.subject, crossing.offline, crossing.allowed) == ("delivery", True, False)
    assert walk_in.crossing_id == crossing.id


def test_an_online_walk_in_is_not_marked_offline(compound: Compound) -> None:
    post = _poster(compound)
    body = _body(compound, 0)
    del body["registered_at"]
    assert post(body).status_code == 200
    with transaction(compound.sessions, read_only=True) as session:
        assert session.scalars(select(Crossing)).one().offline is False


@pytest.mark.parametrize("minutes_ago", [-30, 8 * 24 * 60])
def test_a_phone_clock_far_off_is_refused_in_chinese_and_nothing_is_written(
    compound: Compound, minutes_ago: int
) -> None:
    post = _poster(compound)
    answer = post(_body(compound, minutes_ago))
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "bad_registered_at"
    with transaction(compound.sessions, read_only=True) as session:
        assert session.scalars(select(WalkIn)).all() == []
        assert session.scalars(select(Crossing)).all() == []


def test_an_unreadable_phone_time_is_refused(compound: Compound) -> None:
    post = _poster(compound)
    answer = post(_body(compound, 1, registered_at="yesterday"))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "invalid_field"
