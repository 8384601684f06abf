"""Issue #11 findings 6, 9 and 8 (server half), over HTTP on SQLite and PostgreSQL.

6: a crossing id is bound to its request (device, pass, direction, time, temperature,
override, claimed verdict): a replay of the same request returns the stored result; the same
id with another body or from another device (of this or another community) is refused
``id_reuse`` (409 online, a per-item ``rejected`` in a batch), audited, and never answers
with the stored crossing's verdict, label or id.
9: an override through the scan API counts only with a supervisor's credential.
8: online, a validly signed pass the server never issued is refused ``unknown_pass``.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, build_compound, scan_body
from sqlalchemy import Engine, func, select, update

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.signing.operations import active_signing_key
from passes import Pass, new_pass_id

FEVER = 381
NORMAL = 365
CLAIM: dict[str, Any] = {"allowed": True, "code": None, "codes": [], "notes": [], "rule_version": 1}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path / "a", households=4, extra_devices=1)
    built.clock.advance(hours=1)
    try:
        yield built
    finally:
        built.dispose()


@pytest.fixture
def other(compound: Compound, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    """A second community in the same database, with its own scanner."""
    built = build_compound(db_url, tmp_path / "b", households=2, clock=compound.clock)
    try:
        yield built
    finally:
        built.dispose()


def _stored(compound: Compound, client_id: str) -> Crossing:
    with transaction(compound.sessions, read_only=True) as session:
        row = session.scalars(select(Crossing).where(Crossing.client_id == client_id)).one()
        session.expunge(row)
        return row


def _count(compound: Compound) -> int:
    with transaction(compound.sessions, read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Crossing)) or 0


def _events(compound: Compound, action: str, community_id: int | None = None) -> list[Any]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action,
                AuditEvent.community_id == (community_id or compound.community_id),
            )
        ).all()
        return [(row.actor, row.subject_id, json.loads(row.details_json)) for row in rows]


def _user(compound: Compound, role: Role) -> str:
    username = f"u{secrets.token_hex(4)}"
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username=username,
            password=PASSWORD,
            role=role,
            actor="test",
            display_name=f"负责人{username}",
        )
    return username


def _minted(compound: Compound, household_id: int) -> str:
    """A pass signed with the community's own key for a registered household, never
    issued (what ``checkpoint passes mint`` prints)."""
    with transaction(compound.sessions, read_only=True) as session:
        key = active_signing_key(session, compound.community_id)
    issued_at = compound.clock().replace(microsecond=0) - timedelta(hours=1)
    return key.sign(
        Pass(
            key_id=key.entry.key_id,
            pass_id=new_pass_id(),
            household_id=household_id,
            community_id=compound.community_id,
            generation=1,
            issued_at=issued_at,
            valid_until=issued_at + timedelta(days=30),
        )
    )


def _post(compound: Compound, body: dict[str, Any], token: str | None = None) -> Any:
    return compound.client().post("/api/v1/scans", json=body, headers=compound.headers(token))


def _assert_refused_reuse(answer: Any, client_id: str) -> None:
    assert answer.status_code == 409, answer.get_json()
    body = answer.get_json()
    assert set(body) == {"error"}  # no verdict, no label, no crossing id
    assert body["error"]["code"] == "id_reuse"
    assert client_id in body["error"]["message"]


# -- finding 6: ids bound to their request ----------------------------------------------------


def test_a_replay_of_the_same_request_returns_the_stored_verdict(compound: Compound) -> None:
    body = scan_body(compound.residents[0].pass_text, "out", NORMAL, scanned_at=compound.clock())
    first, again = _post(compound, body), _post(compound, body)
    assert first.status_code == again.status_code == 200
    assert (first.get_json()["replay"], again.get_json()["replay"]) == (False, True)
    assert again.get_json()["verdict"] == first.get_json()["verdict"]
    assert again.get_json()["household_label"] == first.get_json()["household_label"]
    assert len(_stored(compound, body["id"]).request_hash or "") == 64
    assert _events(compound, "crossing.id_reuse") == []


def test_a_stored_id_with_a_forged_pass_is_refused_and_the_attempt_is_audited(
    compound: Compound,
) -> None:
    resident = compound.residents[0]
    body = scan_body(resident.pass_text, "out", NORMAL, scanned_at=compound.clock())
    assert _post(compound, body).get_json()["verdict"]["allowed"] is True
    before = _count(compound)
    forged = {**body, "pass": resident.pass_text[:-4] + "AAAA"}
    _assert_refused_reuse(_post(compound, forged), body["id"])
    other_direction = {**body, "direction": "in"}
    _assert_refused_reuse(_post(compound, other_direction), body["id"])
    hotter = {**body, "temperature": FEVER}
    _assert_refused_reuse(_post(compound, hotter), body["id"])
    assert _count(compound) == before  # nothing stored under the reused id
    assert _stored(compound, body["id"]).allowed is True  # the stored one unchanged
    events = _events(compound, "crossing.id_reuse")
    assert len(events) == 3
    actor, subject, details = events[0]
    assert (actor, subject) == (f"device:{compound.device_id}", body["id"])
    assert details["device_id"] == details["stored_device_id"] == compound.device_id
    assert "allowed" not in details  # never the stored crossing's verdict
    assert {e[2]["direction"] for e in events} == {"out", "in"}


def test_an_id_of_another_device_or_community_is_refused_and_reveals_nothing(
    compound: Compound, other: Compound
) -> None:
    resident = compound.residents[0]
    body = scan_body(resident.pass_text, "out", NORMAL, scanned_at=compound.clock())
    assert _post(compound, body).status_code == 200
    # The same body from the second scanner of the same gate, then from community B's scanner
    # with B's own pass under A's id.
    _assert_refused_reuse(_post(compound, body, compound.extra_tokens[0]), body["id"])
    theirs = {**body, "pass": other.residents[0].pass_text}
    answer = _post(compound, theirs, other.token)
    _assert_refused_reuse(answer, body["id"])
    assert resident.code not in answer.get_data(as_text=True)
    mine = _events(compound, "crossing.id_reuse")
    theirs_events = _events(compound, "crossing.id_reuse", other.community_id)
    assert len(mine) == 2  # the second device's attempt, and B's (A's office learns of it)
    assert len(theirs_events) == 1
    details = theirs_events[0][2]
    assert details["device_id"] == other.device_id
    assert details["stored_device_id"] == compound.device_id
    assert details["stored_community_id"] == compound.community_id


def test_a_batch_item_reusing_an_id_with_another_body_is_refused_not_a_duplicate(
    compound: Compound, other: Compound
) -> None:
    resident = compound.residents[1]
    at = compound.clock() - timedelta(minutes=10)
    item = scan_body(resident.pass_text, "out", NORMAL, scanned_at=at, verdict=CLAIM)
    changed = {**item, "direction": "in"}
    answer = compound.upload(compound.client(), [item, changed, item])
    results = answer.get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected", "duplicate"]
    assert results[1]["error"]["code"] == "id_reuse"
    assert results[1]["crossing_id"] is None
    assert results[1]["conflict"] is False
    assert results[2]["crossing_id"] == results[0]["crossing_id"]
    # Another community's scanner uploading the same id gets nothing of it.
    foreign = {**item, "pass": other.residents[0].pass_text}
    again = other.upload(compound.client(), [foreign]).get_json()["results"]
    assert again[0]["status"] == "rejected"
    assert (again[0]["error"]["code"], again[0]["crossing_id"]) == ("id_reuse", None)
    assert len(_events(compound, "crossing.id_reuse")) == 2
    assert _stored(compound, item["id"]).direction.value == "out"


def test_an_unreadable_item_reusing_a_stored_id_is_refused(compound: Compound) -> None:
    at = compound.clock() - timedelta(minutes=5)
    item = scan_body(compound.residents[1].pass_text, "out", NORMAL, scanned_at=at, verdict=CLAIM)
    assert compound.upload(compound.client(), [item]).get_json()["results"][0]["status"] == (
        "stored"
    )
    broken = {**item, "direction": "sideways"}
    results = compound.upload(compound.client(), [broken, broken]).get_json()["results"]
    assert [(r["status"], r["error"]["code"]) for r in results] == [("rejected", "id_reuse")] * 2
    unreadable = {**item, "id": str(uuid.uuid4()), "direction": "sideways"}
    twice = compound.upload(compound.client(), [unreadable, unreadable]).get_json()["results"]
    assert [r["error"]["code"] for r in twice] == ["invalid_field", "invalid_field"]
    assert twice[0]["crossing_id"] == twice[1]["crossing_id"]  # the same item: one row


def test_a_crossing_stored_before_ids_were_bound_replays_to_its_own_device_only(
    compound: Compound,
) -> None:
    body = scan_body(compound.residents[2].pass_text, "out", NORMAL, scanned_at=compound.clock())
    assert _post(compound, body).status_code == 200
    with transaction(compound.sessions) as session:
        session.execute(
            update(Crossing).where(Crossing.client_id == body["id"]).values(request_hash=None)
        )
    replay = _post(compound, {**body, "temperature": NORMAL + 1})
    assert (replay.status_code, replay.get_json()["replay"]) == (200, True)
    _assert_refused_reuse(_post(compound, body, compound.extra_tokens[0]), body["id"])


# -- finding 9: overrides need a supervisor --------------------------------------------------


def _override(credential: dict[str, str] | None = None) -> dict[str, Any]:
    override: dict[str, Any] = {"supervisor": "王主任", "reason": "送医就诊"}
    if credential is not None:
        override["supervisor_credential"] = credential
    return override


@pytest.mark.parametrize("case", ["none", "wrong_password", "office_role", "unknown_user"])
def test_an_override_without_a_valid_supervisor_credential_is_refused_and_logged(
    compound: Compound, case: str
) -> None:
    supervisor, office = _user(compound, Role.SUPERVISOR), _user(compound, Role.OFFICE)
    credential = {
        "none": None,
        "wrong_password": {"username": supervisor, "password": PASSWORD + "x"},
        "office_role": {"username": office, "password": PASSWORD},
        "unknown_user": {"username": "nobody-here", "password": PASSWORD},
    }[case]
    body = scan_body(
        compound.residents[0].pass_text,
        "out",
        FEVER,
        scanned_at=compound.clock(),
        override=_override(credential),
    )
    answer = _post(compound, body)
    assert answer.status_code == 200
    verdict = answer.get_json()["verdict"]
    assert (verdict["allowed"], verdict["code"]) == (False, "fever")
    assert "override_refused" in verdict["notes"]
    own = "override_unauthorized" if case == "none" else "supervisor_login_invalid"
    assert own in verdict["notes"]  # the refusal's own code, and its reason shown
    assert (
        verdict["reason_zh"]
        == {
            "override_unauthorized": "放行需刷主管卡",
            "supervisor_login_invalid": "主管账号或密码错误，不能放行",
        }[own]
    )
    row = _stored(compound, body["id"])
    assert row.allowed is False
    assert "override_refused" in row.flags.split()
    assert row.override_supervisor is None
    events = _events(compound, "crossing.override_refused")
    assert len(events) == 1
    assert events[0][2]["claimed_supervisor"] == "王主任"
    assert PASSWORD not in json.dumps(events[0][2])


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_an_override_with_a_supervisors_credential_lets_a_fever_through(
    compound: Compound, role: Role
) -> None:
    username = _user(compound, role)
    body = scan_body(
        compound.residents[0].pass_text,
        "out",
        FEVER,
        scanned_at=compound.clock(),
        override=_override({"username": username, "password": PASSWORD}),
    )
    answer = _post(compound, body)
    assert answer.status_code == 200, answer.get_json()
    verdict = answer.get_json()["verdict"]
    assert (verdict["allowed"], verdict["code"]) == (True, "fever")
    assert "override" in verdict["notes"]
    row = _stored(compound, body["id"])
    assert row.override_supervisor == f"负责人{username}"  # the verified account, not the text
    assert row.override_reason == "送医就诊"
    assert _events(compound, "crossing.override_refused") == []
    assert _post(compound, body).get_json()["replay"] is True  # replays like any scan


def test_a_supervisor_of_another_community_cannot_override(
    compound: Compound, other: Compound
) -> None:
    username = _user(other, Role.SUPERVISOR)
    body = scan_body(
        compound.residents[0].pass_text,
        "out",
        FEVER,
        scanned_at=compound.clock(),
        override=_override({"username": username, "password": PASSWORD}),
    )
    verdict = _post(compound, body).get_json()["verdict"]
    assert (verdict["allowed"], verdict["code"]) == (False, "fever")
    assert len(_events(compound, "crossing.override_refused")) == 1


def test_an_offline_override_is_accepted_as_the_scanner_decided_and_flagged_unverified(
    compound: Compound,
) -> None:
    at = compound.clock() - timedelta(minutes=3)
    claim = {**CLAIM, "code": "fever", "codes": ["fever"], "notes": ["override"]}
    item = scan_body(
        compound.residents[3].pass_text,
        "out",
        FEVER,
        scanned_at=at,
        override=_override({"username": "someone", "password": PASSWORD}),
        verdict=claim,
    )
    result = compound.upload(compound.client(), [item]).get_json()["results"][0]
    assert result["status"] == "stored"
    row = _stored(compound, item["id"])
    assert row.allowed is True
    assert "override_unverified" in row.flags.split()
    assert PASSWORD not in (row.rejection_reason or "")


# -- finding 8 (server half): passes it never issued -----------------------------------------


def test_a_pass_the_server_never_issued_is_refused_online_and_a_conflict_offline(
    compound: Compound,
) -> None:
    resident = compound.residents[0]
    text = _minted(compound, resident.household_id)
    answer = _post(compound, scan_body(text, "out", NORMAL, scanned_at=compound.clock()))
    verdict = answer.get_json()["verdict"]
    assert (answer.status_code, verdict["allowed"], verdict["code"]) == (
        200,
        False,
        "unknown_pass",
    )
    assert verdict["reason_zh"] == "出入证未登记（非本系统签发）"
    item = scan_body(
        text, "out", NORMAL, scanned_at=compound.clock() - timedelta(minutes=2), verdict=CLAIM
    )
    result = compound.upload(compound.client(), [item]).get_json()["results"][0]
    assert (result["status"], result["conflict"], result["conflict_code"]) == (
        "stored",
        True,
        "unknown_pass",
    )
    assert _stored(compound, item["id"]).household_id == resident.household_id
    # The household's real card still works.
    real = _post(compound, scan_body(resident.pass_text, "in", NORMAL, scanned_at=compound.clock()))
    assert real.get_json()["verdict"]["allowed"] is True
