"""A scanner with no network decides cars by their windscreen cards (VH1) from the bundle the
real app gave it (the HTTP contract over an in-process transport), on SQLite and PostgreSQL:
a registered car goes out and comes back; after a refresh the bundle refuses a revoked pass
and a quarantined household's car on its way out. The journal uploads every car once: stored
as vehicle crossings with the plate, offline, as decided, no household state moved."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).parents[1] / "gate"))

from api_helpers import Compound, assert_chain_intact, build_compound

from gate.crossings.models import Crossing
from gate.db import transaction
from gate.households.models import Household
from gate.households.operations import set_quarantine
from gate.vehicles.issuing import issue_vehicle_pass, revoke_vehicle_pass
from gate.vehicles.registry import add_vehicle
from passes import Direction
from scanner.api_client import ApiClient
from scanner.bundle import BundleCache
from scanner.deciding import Decider, DecidingConfig, Decision, ScanRequest
from scanner.journal import Journal
from scanner.loop_parts import entry_for
from scanner.sync import Uploader, refresh_bundle

PLATES = ("鲁E12345", "鲁E67890")


@pytest.fixture
def compound(committed_engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Compound]:
    built = build_compound(db_url, tmp_path / "gate", households=2)
    built.clock.advance(hours=1)
    try:
        yield built
    finally:
        built.dispose()


def _register(compound: Compound, resident: int, plate: str) -> str:
    now = compound.clock()
    with transaction(compound.sessions) as session:
        add_vehicle(
            session,
            community_id=compound.community_id,
            household_code=compound.residents[resident].code,
            plate=plate,
            note="轿车",
            actor="office",
            now=now,
        )
        return issue_vehicle_pass(
            session, community_id=compound.community_id, plate=plate, actor="office", now=now
        ).text


def test_a_scanner_offline_decides_cars_from_its_bundle_and_uploads_them_once(
    compound: Compound, tmp_path: Path
) -> None:
    first, second = (_register(compound, n, plate) for n, plate in enumerate(PLATES))
    client = ApiClient("http://gate", compound.token, transport=httpx.WSGITransport(compound.app))
    journal = Journal(tmp_path / "journal.db")
    decider = Decider(
        client=None,  # no network: every decision is the bundle's
        bundles=BundleCache(journal).current,
        local=journal,
        now=compound.clock,
        config=DecidingConfig(deadline_s=60),
    )

    def scan(text: str, direction: Direction) -> Decision:
        request = ScanRequest(text, direction, None)
        decision = decider.decide(request)
        journal.record(entry_for(request, decision, None), decision.state_after)
        compound.clock.advance(minutes=1)
        return decision

    def state() -> tuple[int, str]:
        """The first car's household: out count and stored state."""
        with transaction(compound.sessions, read_only=True) as session:
            row = session.get(Household, compound.residents[0].household_id)
            assert row is not None
            return row.out_count, row.state_json

    try:
        refresh_bundle(client, journal, device_now=compound.clock)
        before = state()
        out = scan(first, Direction.OUT)
        assert (out.offline, out.allowed, out.notes) == (True, True, ("vehicle_pass",))
        assert out.household_label == compound.residents[0].code
        back = scan(first, Direction.IN)
        assert back.allowed is True
        with transaction(compound.sessions) as session:
            revoke_vehicle_pass(
                session,
                community_id=compound.community_id,
                plate=PLATES[0],
                reason="遗失",
                actor="office",
                now=compound.clock(),
            )
            household = session.get(Household, compound.residents[1].household_id)
            assert household is not None
            set_quarantine(
                session,
                household,
                until=(compound.clock() + timedelta(days=7)).date(),
                reason="密接",
                actor="office",
                now=compound.clock(),
            )
        compound.clock.advance(minutes=1)
        refresh_bundle(client, journal, device_now=compound.clock)
        revoked = scan(first, Direction.IN)
        assert (revoked.allowed, revoked.code) == (False, "revoked")
        held = scan(second, Direction.OUT)
        assert (held.allowed, held.code) == (False, "quarantined")
        assert held.reason_zh

        for _ in range(2):  # the second time nothing is left to send
            report = Uploader(client, journal, now=compound.clock).upload_pending()
            assert (report.error, report.dead) == (None, 0)
        with transaction(compound.sessions, read_only=True) as session:
            cars = list(session.scalars(select(Crossing).order_by(Crossing.scanned_at)))
        assert [(c.subject, c.plate, c.allowed, c.code, c.offline) for c in cars] == [
            ("vehicle", PLATES[0], True, None, True),
            ("vehicle", PLATES[0], True, None, True),
            ("vehicle", PLATES[0], False, "revoked", True),
            ("vehicle", PLATES[1], False, "quarantined", True),
        ]
        assert {c.household_id for c in cars} == {None}
        assert not any(c.conflict for c in cars)
        assert state() == before  # the car moved no household's state
        assert assert_chain_intact(compound) == 4
    finally:
        journal.close()
        client.close()
