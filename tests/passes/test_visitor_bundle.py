"""The bundle's optional ``used_visitor_pass_ids`` (single-use visitor passes consumed):
written only when present, read back equal, in the content hash, strict about its shape; an
older bundle without it still reads (no visitor pass is known used)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from passes import HouseholdState, KeySet, RuleSet, WireFormatError, wire

T0 = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
USED = (bytes.fromhex("5f" * 12), bytes.fromhex("60" * 12))


def _bundle(used: tuple[bytes, ...] | None) -> wire.Bundle:
    return wire.Bundle.build(
        generated_at=T0,
        community=wire.Community(350322, "幸福里", "Asia/Shanghai"),
        rules=RuleSet(),
        keys=KeySet(()),
        revoked_pass_ids=(),
        households=(HouseholdState(1),),
        used_visitor_pass_ids=used,
    )


def test_used_visitor_ids_round_trip_and_change_the_content_hash() -> None:
    bundle = _bundle(USED)
    data = bundle.to_json()
    assert data["used_visitor_pass_ids"] == ["5f" * 12, "60" * 12]
    assert wire.Bundle.from_json(data).used_visitor_pass_ids == USED
    without = _bundle(None)
    assert "used_visitor_pass_ids" not in without.to_json()
    assert wire.Bundle.from_json(without.to_json()).used_visitor_pass_ids is None
    assert bundle.content_hash != without.content_hash
    assert _bundle(()).content_hash != without.content_hash  # present but empty is said


@pytest.mark.parametrize("value", [["5f" * 11], ["zz" * 12], "5f" * 12, [12], [None], {"a": 1}])
def test_bad_used_visitor_ids_are_refused_naming_the_field(value: object) -> None:
    data = _bundle(USED).to_json()
    data["used_visitor_pass_ids"] = value
    with pytest.raises(WireFormatError) as raised:
        wire.Bundle.from_json(data)
    assert "used_visitor_pass_ids" in str(raised.value)


def test_null_reads_as_absent() -> None:
    data = _bundle(USED).to_json()
    data["used_visitor_pass_ids"] = None
    assert wire.Bundle.from_json(data).used_visitor_pass_ids is None
