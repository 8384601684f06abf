"""A supervisor card across the scanner and the gate, over the HTTP contract (the real app
behind an in-process transport), on SQLite and PostgreSQL: a refusal followed by the card is
an override crossing online and offline (the offline one verified on upload at its scan
time); after the card is revoked and the bundle refreshed, the offline scanner refuses it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).parents[1] / "gate"))

from api_helpers import Compound, build_compound

from gate.accounts.models import Role
from gate.accounts.operations import create_user
from gate.audit.models import AuditEvent
from gate.crossings.models import Crossing
from gate.db import transaction
from gate.supervisors.operations import (
    issue_supervisor_card,
    revoke_supervisor_card,
    short_id,
)
from passes import Direction
from scanner.api_client import ApiClient
from scanner.bundle import BundleCache
from scanner.deciding import Decider, DecidingConfig, Decision, ScanRequest
from scanner.journal import Journal
from scanner.loop_parts import entry_for
from scanner.sync import Uploader, refresh_bundle

FEVER = 381


class Mono:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path / "gate", households=3)
    built.clock.advance(hours=1)
    try:
        yield built
    finally:
        built.dispose()


def _card(compound: Compound) -> tuple[str, str]:
    with transaction(compound.sessions) as session:
        create_user(
            session,
            community_id=compound.community_id,
            username="wang.sup",
            password="correct horse battery staple",
            role=Role.SUPERVISOR,
            actor="test",
            display_name="王主任",
        )
        session.flush()
        issued = issue_supervisor_card(
            session,
            community_id=compound.community_id,
            username="wang.sup",
            actor="test",
            now=compound.clock(),
        )
        return issued.text, short_id(issued.record.card_id)


def _stored(compound: Compound, client_id: str) -> Crossing:
    with transaction(compound.sessions, read_only=True) as session:
        row = session.scalars(select(Crossing).where(Crossing.client_id == client_id)).one()
        session.expunge(row)
        return row


def test_a_card_overrides_online_and_offline_and_a_revoked_one_is_refused_offline(
    compound: Compound, tmp_path: Path
) -> None:
    card, number = _card(compound)
    transport = httpx.WSGITransport(app=compound.app)
    client = ApiClient("http://gate", compound.token, transport=transport)
    journal = Journal(tmp_path / "journal.db")
    try:
        assert refresh_bundle(client, journal, device_now=compound.clock).outcome == "changed"
        config = DecidingConfig(deadline_s=60)  # a loaded test machine must not go offline
        common = {
            "bundles": BundleCache(journal).current,
            "local": journal,
            "now": compound.clock,
            "monotonic": Mono(),
            "config": config,
        }
        online = Decider(client=client, **common)  # type: ignore[arg-type]
        offline = Decider(client=None, **common)  # type: ignore[arg-type]

        def scan(decider: Decider, household: int) -> tuple[ScanRequest, Decision]:
            resident = compound.residents[household]
            request = ScanRequest(resident.pass_text, Direction.OUT, FEVER)
            decision = decider.decide(request)
            journal.record(entry_for(request, decision, None), decision.state_after)
            return request, decision

        def overridden(decider: Decider, request: ScanRequest, refused: Decision) -> Decision:
            decision = decider.override(request, refused, card, "就医")
            journal.record(
                entry_for(
                    ScanRequest(
                        request.pass_text,
                        Direction.OUT,
                        FEVER,
                        override=decision.override,
                        crossing_id=decision.crossing_id,
                    ),
                    decision,
                    None,
                ),
                decision.state_after,
            )
            compound.clock.advance(minutes=1)
            return decision

        # Online: the server checks the card.
        request, refused = scan(online, 0)
        assert (refused.offline, refused.allowed, refused.code) == (False, False, "fever")
        decision = overridden(online, request, refused)
        assert (decision.offline, decision.allowed) == (False, True)
        row = _stored(compound, decision.crossing_id)
        assert row.override_supervisor == f"王主任（主管卡 {number}）"
        assert row.override_card_id is not None

        # Offline: the scanner checks the card from the bundle, the server again on upload.
        request, refused = scan(offline, 1)
        assert (refused.offline, refused.code) == (True, "fever")
        assert refused.household_label == compound.residents[1].code
        decision = overridden(offline, request, refused)
        assert (decision.offline, decision.allowed) == (True, True)
        report = Uploader(client, journal, now=compound.clock).upload_pending()
        assert (report.error, report.dead) == (None, 0)
        row = _stored(compound, decision.crossing_id)
        assert row.allowed is True
        assert row.override_supervisor == f"王主任（主管卡 {number}）"
        assert "override_unverified" not in row.flags.split()

        # Revoked at the office; the scanner's next refresh brings the revocation.
        with transaction(compound.sessions) as session:
            revoke_supervisor_card(
                session,
                community_id=compound.community_id,
                card=number,
                reason="遗失",
                actor="test",
                now=compound.clock(),
            )
        compound.clock.advance(minutes=1)
        assert refresh_bundle(client, journal, device_now=compound.clock).outcome == "changed"
        request, refused = scan(offline, 2)
        attempt = overridden(offline, request, refused)
        assert (attempt.allowed, attempt.code) == (False, "supervisor_card_revoked")
        assert attempt.reason_zh == "主管卡已作废，不能放行"
        report = Uploader(client, journal, now=compound.clock).upload_pending()
        assert report.error is None
        row = _stored(compound, attempt.crossing_id)
        assert (row.allowed, row.code) == (False, "supervisor_card_revoked")
        assert {"override_refused", "supervisor_card_revoked"} <= set(row.flags.split())
        with transaction(compound.sessions, read_only=True) as session:
            events = [
                json.loads(e.details_json)
                for e in session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "crossing.override_refused")
                )
            ]
        assert [event["refusal"] for event in events] == ["supervisor_card_revoked"]
    finally:
        journal.close()
        client.close()


def test_the_bundle_never_carries_a_name_phone_or_id_number(compound: Compound) -> None:
    _card(compound)
    body = (
        compound.client().get("/api/v1/bundle", headers=compound.headers()).get_data(as_text=True)
    )
    for resident in compound.residents:
        for item in (*resident.member_names, *resident.member_phones, *resident.id_numbers):
            assert item not in body
    assert "王主任" not in body  # the supervisor is an account id in the bundle, no name
    assert "wang.sup" not in body
