"""Outsiders at the gate, on SQLite and PostgreSQL: a walk-in is registered and turned back
(劝返), a delivery handed over, both logged as refused crossings with their own codes; a visitor
pass issued by the office lets in once (single use), is refused when used, revoked, expired
or never issued, at the phone gate and at the scanner API alike."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import NORMAL, Compound, assert_chain_intact, build_compound, scan_body
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from web_helpers import CSRF_META, log_in
from werkzeug.test import TestResponse

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.signing.operations import active_signing_key
from gate.visitors.fields import VisitorError
from gate.visitors.issuing import (
    VisitorRequest,
    issue_visitor_pass,
    revoke_visitor_pass,
    short_id,
)
from gate.visitors.models import VisitorPassRecord, WalkIn
from passes import VisitorKind, sign_visitor_pass, visitor_pass_for

PASSWORD = "correct horse battery"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path, households=2)
    try:
        yield built
    finally:
        built.dispose()


@dataclass
class Gate:
    client: FlaskClient
    csrf: str

    def post(self, path: str, body: dict[str, Any]) -> TestResponse:
        return self.client.post(path, json=body, headers={"X-CSRFToken": self.csrf})

    def walk_in(self, **fields: Any) -> TestResponse:
        return self.post("/gate/walk-in", {"id": str(uuid.uuid4()), **fields})

    def scan(self, text: str, direction: str = "in", temperature: object = NORMAL) -> TestResponse:
        body = {"id": str(uuid.uuid4()), "pass": text, "direction": direction}
        return self.post("/gate/scan", {**body, "temperature": temperature})


def _gate(compound: Compound) -> Gate:
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
    page = client.get("/gate").get_data(as_text=True)
    found = CSRF_META.search(page)
    assert found
    return Gate(client, found.group(1))


def _issue(compound: Compound, *, single_use: bool = True, hours: int = 8, **extra: Any) -> str:
    now = compound.clock()
    request = VisitorRequest(
        kind=extra.pop("kind", "visitor"),
        name="王访客",
        purpose="探望老人",
        valid_from=now - timedelta(minutes=5),
        valid_until=now + timedelta(hours=hours),
        single_use=single_use,
        phone="13812345678",
        plate=extra.pop("plate", None),
    )
    with transaction(compound.sessions) as session:
        issued = issue_visitor_pass(
            session, community_id=compound.community_id, request=request, actor="office", now=now
        )
        return issued.text


def _crossings(compound: Compound) -> list[Crossing]:
    with transaction(compound.sessions, read_only=True) as session:
        return list(session.scalars(select(Crossing).order_by(Crossing.id)))


def test_a_walk_in_is_turned_back_and_logged_with_its_own_code(compound: Compound) -> None:
    gate = _gate(compound)
    answer = gate.walk_in(kind="visitor", plate="鲁e 12345", phone="138 1234 5678", purpose="找人")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["verdict"]["allowed"] is False
    assert body["verdict"]["code"] == "no_pass"
    assert body["reason"] == "无证人员，劝返"
    assert body["walk_in"]["phone"] == "138****5678"
    assert body["walk_in"]["plate"] == "鲁E12345"
    (crossing,) = _crossings(compound)
    assert (crossing.subject, crossing.plate, crossing.household_id) == (
        "walk_in",
        "鲁E12345",
        None,
    )
    with transaction(compound.sessions, read_only=True) as session:
        walk_in = session.scalars(select(WalkIn)).one()
        assert walk_in.phone == "13812345678"  # kept whole for the office's call back
        assert walk_in.crossing_id == crossing.id
        assert crossing.subject_id == walk_in.id
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "walk_in.register")
        ).one()
        assert "13812345678" not in event.details_json
    assert_chain_intact(compound)


def test_a_delivery_is_handed_over_and_only_a_delivery(compound: Compound) -> None:
    gate = _gate(compound)
    answer = gate.walk_in(kind="delivery", outcome="handed_over", purpose="外卖")
    assert answer.get_json()["verdict"]["code"] == "handed_over"
    refused = gate.walk_in(kind="visitor", outcome="handed_over")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "bad_outcome"
    (crossing,) = _crossings(compound)
    assert crossing.subject == "delivery"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"kind": "alien"}, "bad_kind"),
        ({"kind": "visitor", "plate": "XX12345"}, "bad_plate"),
        ({"kind": "visitor", "phone": "12345"}, "bad_phone"),
        ({"kind": "visitor", "purpose": "长" * 201}, "purpose_too_long"),
    ],
)
def test_bad_walk_in_input_is_refused_in_chinese_and_nothing_is_written(
    compound: Compound, fields: dict[str, Any], code: str
) -> None:
    answer = _gate(compound).walk_in(**fields)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == code
    assert error["message"]  # Chinese once the catalogue has .i18n/visitors.json merged
    assert _crossings(compound) == []


def test_a_walk_in_replayed_with_its_id_is_stored_once(compound: Compound) -> None:
    gate = _gate(compound)
    body = {"id": str(uuid.uuid4()), "kind": "official", "purpose": "检查"}
    first = gate.post("/gate/walk-in", body).get_json()
    second = gate.post("/gate/walk-in", body).get_json()
    assert second["crossing_id"] == first["crossing_id"]
    assert second["replay"] is True
    other = gate.post("/gate/walk-in", {**body, "purpose": "别的"})
    assert other.status_code == 409
    assert len(_crossings(compound)) == 1


def test_a_single_use_visitor_pass_lets_in_once(compound: Compound) -> None:
    gate = _gate(compound)
    text = _issue(compound)
    first = gate.scan(text).get_json()
    assert first["verdict"]["allowed"] is True, first
    assert first["verdict"]["notes"] == ["visitor"]
    assert first["household_label"].startswith("王**")
    second = gate.scan(text).get_json()
    assert second["verdict"]["code"] == "visitor_pass_used"
    assert second["reason"] == "访客通行证已使用（仅限一次）"
    leaving = gate.scan(text, direction="out").get_json()
    assert leaving["verdict"]["allowed"] is True
    crossings = _crossings(compound)
    assert [c.subject for c in crossings] == ["visitor"] * 3
    with transaction(compound.sessions, read_only=True) as session:
        record = session.scalars(select(VisitorPassRecord)).one()
        assert record.used_crossing_id == crossings[0].id
        assert crossings[0].subject_id == record.id


def test_the_scanner_api_decides_visitor_passes_too(compound: Compound) -> None:
    text = _issue(compound, single_use=False)
    api = compound.client()
    for _ in range(2):
        answer = compound.scan(api, text, "in", NORMAL)
        assert answer.get_json()["verdict"]["allowed"] is True
    fever = compound.scan(api, text, "in", 381)
    assert fever.get_json()["verdict"]["code"] == "fever"
    assert [c.device_id for c in _crossings(compound)] == [compound.device_id] * 3


def test_revoked_expired_and_never_issued_visitor_passes_are_refused(compound: Compound) -> None:
    gate = _gate(compound)
    revoked = _issue(compound)
    with transaction(compound.sessions) as session:
        record = session.scalars(select(VisitorPassRecord)).one()
        revoke_visitor_pass(
            session,
            community_id=compound.community_id,
            number=short_id(record.pass_id),
            reason="取消来访",
            actor="office",
            now=compound.clock(),
        )
    expiring = _issue(compound, hours=1)
    with transaction(compound.sessions) as session:
        key = active_signing_key(session, compound.community_id)
        now = compound.clock()
        minted = sign_visitor_pass(
            key,
            visitor_pass_for(
                key_id=key.entry.key_id,
                pass_id=bytes(12),
                community_id=compound.community_id,
                valid_from=now,
                valid_until=now + timedelta(hours=1),
                single_use=True,
                kind=VisitorKind.VISITOR,
            ),
        )
    assert gate.scan(revoked).get_json()["verdict"]["code"] == "visitor_pass_revoked"
    assert gate.scan(minted).get_json()["verdict"]["code"] == "unknown_pass"
    compound.clock.advance(hours=2)
    assert gate.scan(expiring).get_json()["verdict"]["code"] == "visitor_pass_expired"


def test_issuing_refuses_bad_input_and_writes_nothing(compound: Compound) -> None:
    now = compound.clock()
    cases = [
        (VisitorRequest("visitor", "", "探望", now, now + timedelta(hours=1)), "name_required"),
        (VisitorRequest("visitor", "王", "", now, now + timedelta(hours=1)), "purpose_required"),
        (VisitorRequest("visitor", "王", "探望", now, now + timedelta(days=40)), "bad_window"),
        (
            VisitorRequest(
                "visitor", "王", "探望", now - timedelta(days=2), now - timedelta(days=1)
            ),
            "window_over",
        ),
        (
            VisitorRequest("visitor", "王", "探望", now, now + timedelta(hours=1), phone="1"),
            "bad_phone",
        ),
    ]
    for request, code in cases:
        with pytest.raises(VisitorError) as caught, transaction(compound.sessions) as session:
            issue_visitor_pass(
                session,
                community_id=compound.community_id,
                request=request,
                actor="office",
                now=now,
            )
        assert caught.value.code == code
    with transaction(compound.sessions, read_only=True) as session:
        assert session.scalars(select(VisitorPassRecord)).all() == []


def test_visitor_scan_replays_by_client_id(compound: Compound) -> None:
    text = _issue(compound)
    api = compound.client()
    body = scan_body(text, "in", NORMAL, scanned_at=compound.clock())
    headers = {"Authorization": f"Bearer {compound.token}"}
    first = api.post("/api/v1/scans", json=body, headers=headers).get_json()
    second = api.post("/api/v1/scans", json=body, headers=headers).get_json()
    assert second["replay"] is True
    assert second["verdict"]["allowed"] is first["verdict"]["allowed"] is True
    assert len(_crossings(compound)) == 1
