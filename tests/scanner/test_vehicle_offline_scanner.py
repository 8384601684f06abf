"""The scanner decides a car's vehicle pass (VH1) offline from its bundle: keys, revoked ids,
the household's state (a quarantined household's car does not go out; 全封闭 closes exits);
the household's state is not moved, and the journal's upload carries the pass as shown."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from passes import Direction, HouseholdState, HouseholdStatus, RuleSet, wire
from passes.vehicle_pass import parse_vehicle_pass, sign_vehicle_pass, vehicle_pass_for
from scanner.bundle import Bundle
from scanner.deciding import Decision, ScanRequest, decide_offline
from scanner.journal import Journal
from scanner.loop_parts import entry_for
from scanner.sync import upload_item
from tests.scanner.fakes import COMMUNITY_ID, NOW, Community

MAX_AGE = timedelta(hours=24)


def _car(community: Community, household_id: int = 1, *, community_id: int = COMMUNITY_ID) -> str:
    fields = vehicle_pass_for(
        key_id=1,
        pass_id=uuid.uuid4().bytes[:12],
        community_id=community_id,
        household_id=household_id,
        issued_at=NOW - timedelta(days=1),
        valid_for=timedelta(days=180),
        plate="闽C12345",
    )
    return sign_vehicle_pass(community.key, fields)


def _bundle(community: Community, **state: object) -> Bundle:
    data = community.bundle()
    if state:
        households = [HouseholdState(1, **state).to_dict()]  # type: ignore[arg-type]
        data["households"] = households + data["households"][1:]
    return Bundle.from_dict(data, fetched_at=NOW)


def _decide(
    text: str, bundle: Bundle, direction: Direction, journal: Journal | None = None
) -> Decision:
    request = ScanRequest(text, direction, None)
    return decide_offline(request, bundle, local=journal, scanned_at=NOW, max_bundle_age=MAX_AGE)


def test_a_cars_pass_lets_it_in_and_out_offline_without_moving_the_household() -> None:
    community = Community(households=2)
    bundle = _bundle(community)
    text = _car(community)
    decision = _decide(text, bundle, Direction.IN)
    assert decision.allowed
    assert decision.offline
    assert decision.notes == ("vehicle_pass",)
    assert decision.household_id == 1
    assert decision.state_after is None  # the people in the car cross on their own passes
    assert _decide(text, bundle, Direction.OUT).allowed


def test_refusals_offline_follow_the_bundle() -> None:
    community = Community(households=2)
    text = _car(community)
    quarantined = _bundle(
        community, status=HouseholdStatus.QUARANTINED, quarantine_until=NOW + timedelta(days=3)
    )
    out = _decide(text, quarantined, Direction.OUT)
    assert (out.allowed, out.code) == (False, "quarantined")
    assert _decide(text, quarantined, Direction.IN).allowed  # a car may come home
    closed = replace(_bundle(community), rules=RuleSet(closed=True))
    assert _decide(text, closed, Direction.OUT).code == "exits_closed"
    stranger = _decide(
        _car(community, community_id=COMMUNITY_ID + 1), _bundle(community), Direction.IN
    )
    assert stranger.code == "wrong_community"
    unknown = _decide(_car(community, household_id=99), _bundle(community), Direction.IN)
    assert unknown.code == "unknown_household"
    assert _decide(text[:-3] + "AAA", _bundle(community), Direction.IN).allowed is False


def test_a_revoked_vehicle_pass_is_refused_offline() -> None:
    community = Community(households=1)
    text = _car(community)
    community.revoked.append(parse_vehicle_pass(text)[0].pass_id)
    assert _decide(text, _bundle(community), Direction.IN).code == "revoked"


def test_a_stale_bundle_refuses_a_car_as_it_does_a_person() -> None:
    community = Community(households=1)
    old = Bundle.from_dict(
        community.bundle(generated_at=NOW - timedelta(days=3)), fetched_at=NOW - timedelta(days=3)
    )
    assert _decide(_car(community), old, Direction.IN).code == "stale_bundle"


def test_the_journal_keeps_the_car_and_uploads_its_pass(tmp_path: Path) -> None:
    community = Community(households=1)
    text = _car(community)
    journal = Journal(tmp_path / "journal.sqlite3")
    request = ScanRequest(text, Direction.IN, None)
    decision = decide_offline(
        request, _bundle(community), local=journal, scanned_at=NOW, max_bundle_age=MAX_AGE
    )
    journal.record(entry_for(request, decision, None), decision.state_after)
    row = journal.get(decision.crossing_id)
    assert row is not None
    assert row.entry.state == "unsent"
    item = upload_item(row).to_json()
    assert item["pass"] == text
    assert item["verdict"]["allowed"] is True
    assert item["verdict"]["notes"] == ["vehicle_pass"]
    assert wire.Crossing.from_json(item).scan.pass_text == text
    assert journal.local_household(1, since=NOW - timedelta(days=1)) is None
