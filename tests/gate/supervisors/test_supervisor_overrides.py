"""Supervisor cards at the scan API, on SQLite and PostgreSQL: an override counts only with a
card valid at the scan time (online at the server's time, offline at the crossing's); any
other attempt is refused with its own code and reason and logged; the bundle carries the
household codes, the active passes and the cards with their revocations."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Compound, build_compound, scan_body
from sqlalchemy import Engine, select

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.signing.operations import active_signing_key
from gate.supervisors.operations import (
    SupervisorCardError,
    issue_supervisor_card,
    revoke_supervisor_card,
    short_id,
)
from passes import card_for, sign_supervisor_card, wire

FEVER = 381
NORMAL = 365
PASSWORD = "correct horse battery staple"
CLAIM: dict[str, Any] = {
    "allowed": True,
    "code": "fever",
    "codes": ["fever"],
    "notes": ["override"],
    "rule_version": 1,
}


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path / "a", households=3)
    built.clock.advance(hours=1)
    try:
        yield built
    finally:
        built.dispose()


def _user(compound: Compound, role: Role = Role.SUPERVISOR) -> str:
    username = f"sup{secrets.token_hex(3)}"
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username=username,
            password=PASSWORD,
            role=role,
            actor="test",
            display_name="王主任",
        )
    return username


def _card(compound: Compound, username: str, days: int = 30) -> tuple[str, str]:
    """Issue a card to ``username``: its text and its short number."""
    with transaction(compound.sessions) as session:
        issued = issue_supervisor_card(
            session,
            community_id=compound.community_id,
            username=username,
            valid_days=days,
            actor="test",
            now=compound.clock(),
        )
        return issued.text, short_id(issued.record.card_id)


def _revoke(compound: Compound, number: str) -> None:
    with transaction(compound.sessions) as session:
        revoke_supervisor_card(
            session,
            community_id=compound.community_id,
            card=number,
            reason="遗失",
            actor="test",
            now=compound.clock(),
        )


def _override(card: str | None) -> dict[str, Any]:
    override: dict[str, Any] = {"supervisor": "主管卡", "reason": "就医"}
    if card is not None:
        override["supervisor_card"] = card
    return override


def _scan(compound: Compound, card: str | None, resident: int = 0) -> tuple[dict[str, Any], str]:
    body = scan_body(
        compound.residents[resident].pass_text,
        "out",
        FEVER,
        scanned_at=compound.clock(),
        override=_override(card),
    )
    answer = compound.client().post("/api/v1/scans", json=body, headers=compound.headers())
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["verdict"], body["id"]


def _stored(compound: Compound, client_id: str) -> Crossing:
    with transaction(compound.sessions, read_only=True) as session:
        row = session.scalars(select(Crossing).where(Crossing.client_id == client_id)).one()
        session.expunge(row)
        return row


def _events(compound: Compound, action: str) -> list[dict[str, Any]]:
    with transaction(compound.sessions, read_only=True) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        return [json.loads(row.details_json) for row in rows]


def test_a_valid_card_lets_a_fever_through_and_the_crossing_names_account_and_card(
    compound: Compound,
) -> None:
    username = _user(compound)
    card, number = _card(compound, username)
    verdict, client_id = _scan(compound, card)
    assert (verdict["allowed"], verdict["code"]) == (True, "fever")
    assert "override" in verdict["notes"]
    row = _stored(compound, client_id)
    assert row.override_supervisor == f"王主任（主管卡 {number}）"
    assert row.override_reason == "就医"
    assert row.override_card_id is not None
    assert short_id(row.override_card_id) == number
    with transaction(compound.sessions, read_only=True) as session:
        from gate.accounts.operations import find_user

        user = find_user(session, username)
        assert user is not None
        assert row.override_user_id == user.id
    assert _events(compound, "crossing.override_refused") == []


@pytest.mark.parametrize("case", ["revoked", "expired", "forged", "none", "not_a_card"])
def test_an_override_with_a_bad_card_is_refused_with_its_own_code_and_logged(
    compound: Compound, case: str
) -> None:
    card, number = _card(compound, _user(compound), days=1)
    if case == "revoked":
        _revoke(compound, number)
    elif case == "expired":
        compound.clock.advance(days=2)
    elif case == "forged":  # the right shape, signed by a key the community does not have
        from passes import SigningKey

        fields = card_for(
            key_id=1,
            card_id=bytes(12),
            account_id=1,
            community_id=compound.community_id,
            issued_at=compound.clock() - timedelta(hours=1),
            valid_for=timedelta(days=1),
        )
        card = sign_supervisor_card(SigningKey.generate(1), fields)
    expected = {
        "revoked": "supervisor_card_revoked",
        "expired": "supervisor_card_expired",
        "forged": "supervisor_card_invalid",
        "none": "override_unauthorized",
        "not_a_card": "supervisor_card_invalid",
    }[case]
    presented = {"none": None, "not_a_card": "SV1:HELLO"}.get(case, card)
    verdict, client_id = _scan(compound, presented)
    assert (verdict["allowed"], verdict["code"]) == (False, "fever")
    assert {"override_refused", expected} <= set(verdict["notes"])
    assert verdict["reason_zh"].endswith("不能放行") or expected == "override_unauthorized"
    row = _stored(compound, client_id)
    assert (row.allowed, row.override_supervisor, row.override_user_id) == (False, None, None)
    events = _events(compound, "crossing.override_refused")
    assert [event["refusal"] for event in events] == [expected]
    assert card not in json.dumps(events)  # the card by its short number only


def test_a_card_of_a_disabled_or_demoted_account_no_longer_counts(compound: Compound) -> None:
    username = _user(compound)
    card, _number = _card(compound, username)
    with transaction(compound.sessions) as session:
        from gate.accounts.operations import find_user

        user = find_user(session, username)
        assert user is not None
        user.role = Role.VOLUNTEER
    verdict, _ = _scan(compound, card)
    assert verdict["allowed"] is False
    assert "supervisor_card_invalid" in verdict["notes"]


def test_only_a_supervisor_or_admin_account_gets_a_card(compound: Compound) -> None:
    with pytest.raises(SupervisorCardError) as info:
        _card(compound, _user(compound, Role.OFFICE))
    assert info.value.code == "not_a_supervisor"
    with pytest.raises(SupervisorCardError) as info:
        _card(compound, "nobody-here")
    assert info.value.code == "no_such_user"


def _offline_item(compound: Compound, card: str, at_minutes_ago: int) -> dict[str, Any]:
    return scan_body(
        compound.residents[1].pass_text,
        "out",
        FEVER,
        scanned_at=compound.clock() - timedelta(minutes=at_minutes_ago),
        override=_override(card),
        verdict=CLAIM,
    )


def test_an_offline_override_is_accepted_with_a_card_valid_at_its_scan_time(
    compound: Compound,
) -> None:
    card, number = _card(compound, _user(compound))
    compound.clock.advance(minutes=30)
    before = _offline_item(compound, card, at_minutes_ago=20)
    _revoke(compound, number)  # after that scan: the override stays valid
    after = _offline_item(compound, card, at_minutes_ago=0)
    compound.clock.advance(minutes=1)
    results = compound.upload(compound.client(), [before, after]).get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected"]
    assert results[1]["error"]["code"] == "supervisor_card_revoked"
    kept = _stored(compound, before["id"])
    assert kept.allowed is True
    assert "override_unverified" not in kept.flags.split()
    assert kept.override_supervisor == f"王主任（主管卡 {number}）"
    assert kept.override_card_id is not None
    refused = _stored(compound, after["id"])
    assert (refused.rejected, refused.code) == (True, "supervisor_card_revoked")
    assert [e["refusal"] for e in _events(compound, "crossing.override_refused")] == [
        "supervisor_card_revoked"
    ]
    again = compound.upload(compound.client(), [before, after]).get_json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "rejected"]
    assert len(_events(compound, "crossing.override_refused")) == 1


def test_the_bundle_carries_household_codes_passes_and_cards_and_a_revocation_changes_it(
    compound: Compound,
) -> None:
    client = compound.client()
    _card_text, number = _card(compound, _user(compound))
    first = client.get("/api/v1/bundle", headers=compound.headers())
    bundle = wire.Bundle.from_json(first.get_json())
    assert bundle.household_codes == {r.household_id: r.code for r in compound.residents}
    assert bundle.passes is not None
    assert {p.household_id for p in bundle.passes} == {r.household_id for r in compound.residents}
    assert bundle.supervisor_cards is not None
    assert [short_id(c.card_id) for c in bundle.supervisor_cards] == [number]
    assert bundle.revoked_card_ids == ()
    _revoke(compound, number)
    second = client.get(
        "/api/v1/bundle", headers={**compound.headers(), "If-None-Match": first.headers["ETag"]}
    )
    assert second.status_code == 200
    revoked = wire.Bundle.from_json(second.get_json())
    assert revoked.supervisor_cards == ()
    assert [short_id(card_id) for card_id in revoked.revoked_card_ids or ()] == [number]


def test_a_card_signs_with_the_communitys_active_key(compound: Compound) -> None:
    card, _ = _card(compound, _user(compound))
    with transaction(compound.sessions, read_only=True) as session:
        key = active_signing_key(session, compound.community_id)
    from passes import KeySet, VerifiedCard, verify_supervisor_card

    check = verify_supervisor_card(
        card, KeySet((key.entry,)), community_id=compound.community_id, now=compound.clock()
    )
    assert isinstance(check, VerifiedCard)
