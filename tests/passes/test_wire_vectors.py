"""Golden vectors for wire format v1 (tests/passes/vectors/wire_v1/): committed once, never edited.

Every valid vector parses and writes back to exactly the committed JSON; every invalid one
is refused with a :class:`WireFormatError` naming the committed field. If one of these fails,
the change broke every scanner (or gate) already deployed: give the message a new format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from passes import WireFormatError, wire

VECTORS = Path(__file__).parent / "vectors" / "wire_v1"
MESSAGES: dict[str, Any] = {
    "scan": wire.Scan,
    "verdict": wire.ScanAnswer,
    "crossing": wire.Crossing,
    "batch": wire.Batch,
    "batch_result": wire.BatchResult,
    "bundle": wire.Bundle,
    # Vectors for optional fields added later (the files above stay as committed):
    "scan_clock_offset": wire.Scan,
    "crossing_clock_offset": wire.Crossing,
    "scan_supervisor_credential": wire.Scan,
    "scan_supervisor_card": wire.Scan,
    "crossing_supervisor_card": wire.Crossing,
    "bundle_offline": wire.Bundle,
}


def load(kind: str) -> dict[str, Any]:
    """One committed vector file."""
    return json.loads((VECTORS / f"{kind}.json").read_text("utf-8"))  # type: ignore[no-any-return]


def cases(group: str) -> list[Any]:
    return [
        pytest.param(kind, case, id=f"{kind}: {case['name']}")
        for kind in MESSAGES
        for case in load(kind)[group]
    ]


def test_there_is_one_vector_file_per_message_kind_with_several_cases() -> None:
    assert sorted(path.stem for path in VECTORS.glob("*.json")) == sorted(MESSAGES)
    for kind, message in MESSAGES.items():
        vectors = load(kind)
        assert vectors["format"] == message.FORMAT
        assert len(vectors["valid"]) >= 2, kind
        assert len(vectors["invalid"]) >= 4, kind


@pytest.mark.parametrize(("kind", "case"), cases("valid"))
def test_valid_vector_round_trips_to_the_committed_json(kind: str, case: dict[str, Any]) -> None:
    message = MESSAGES[kind].from_json(case["json"])
    assert message.to_json() == case["json"]
    assert case["json"]["format"] == message.FORMAT


@pytest.mark.parametrize(("kind", "case"), cases("invalid"))
def test_invalid_vector_is_refused_naming_its_field(kind: str, case: dict[str, Any]) -> None:
    with pytest.raises(WireFormatError) as info:
        MESSAGES[kind].from_json(case["json"])
    assert info.value.field == case["field"]
    assert str(info.value).startswith(f"{case['field']}: ")


def test_the_bundles_content_hash_is_the_hash_of_its_content_without_its_time() -> None:
    for case in load("bundle")["valid"]:
        bundle = wire.Bundle.from_json(case["json"])
        rebuilt = wire.Bundle.build(
            generated_at=bundle.generated_at,
            community=bundle.community,
            rules=bundle.rules,
            keys=bundle.keys,
            revoked_pass_ids=bundle.revoked_pass_ids,
            households=bundle.households,
        )
        assert rebuilt.content_hash == bundle.content_hash
    one, two = (wire.Bundle.from_json(case["json"]) for case in load("bundle")["valid"][:2])
    assert one.content_hash != two.content_hash


def test_a_batch_vector_is_made_of_crossing_vectors() -> None:
    items = {json.dumps(case["json"], sort_keys=True) for case in load("crossing")["valid"]}
    for case in load("batch")["valid"]:
        for item in case["json"]["crossings"]:
            assert json.dumps(item, sort_keys=True) in items


@pytest.mark.parametrize("kind", ["scan", "crossing"])
def test_the_clock_offset_is_optional_absent_and_null_read_as_none(kind: str) -> None:
    body = load(kind)["valid"][0]["json"]
    assert "clock_offset_ms" not in body
    assert MESSAGES[kind].from_json(body).to_json() == body
    with_null = {**body, "clock_offset_ms": None}
    assert MESSAGES[kind].from_json(with_null).to_json() == body  # null is written by omission


def test_the_clock_offset_travels_in_a_crossing_and_a_batch() -> None:
    item = load("crossing_clock_offset")["valid"][1]["json"]
    crossing = wire.Crossing.from_json(item)
    assert crossing.scan.clock_offset_ms == -172_800_000
    batch = wire.Batch.from_json({"format": wire.BATCH_FORMAT, "crossings": [item]})
    assert batch.to_json()["crossings"] == [item]


def test_the_bundles_optional_fields_are_in_its_content_hash_and_read_back() -> None:
    for case in load("bundle_offline")["valid"]:
        bundle = wire.Bundle.from_json(case["json"])
        rebuilt = wire.Bundle.build(
            generated_at=bundle.generated_at,
            community=bundle.community,
            rules=bundle.rules,
            keys=bundle.keys,
            revoked_pass_ids=bundle.revoked_pass_ids,
            households=bundle.households,
            household_codes=bundle.household_codes,
            passes=bundle.passes,
            supervisor_cards=bundle.supervisor_cards,
            revoked_card_ids=bundle.revoked_card_ids,
        )
        assert rebuilt.content_hash == bundle.content_hash
    full = wire.Bundle.from_json(load("bundle_offline")["valid"][0]["json"])
    assert full.household_codes == {1: "3-2-401", 2: "3-2-402", 3: "3-2-403"}
    assert full.passes is not None
    assert full.passes[0].community_id == full.community.id
    assert full.supervisor_cards is not None
    assert full.supervisor_cards[0].account_id == 7
    plain = wire.Bundle.from_json(load("bundle")["valid"][0]["json"])
    assert (plain.household_codes, plain.passes, plain.supervisor_cards) == (None, None, None)
    assert plain.revoked_card_ids is None


def test_a_supervisor_card_travels_in_the_override_of_a_scan_and_a_crossing() -> None:
    scan = wire.Scan.from_json(load("scan_supervisor_card")["valid"][0]["json"])
    assert scan.override is not None
    assert scan.override.card is not None
    assert scan.override.card.startswith("SV1:")
    plain = wire.Scan.from_json(load("scan")["valid"][0]["json"])
    assert plain.override is None or plain.override.card is None
    item = load("crossing_supervisor_card")["valid"][0]["json"]
    crossing = wire.Crossing.from_json(item)
    assert crossing.scan.override is not None
    assert crossing.scan.override.card == item["override"]["supervisor_card"]
