"""The bundle's optional ``duty`` (the shifts at the scanner's gate): written only when present,
read back equal, in the content hash, and strict about its shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from passes import HouseholdState, KeySet, RuleSet, WireFormatError, wire

T0 = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
SLOTS = (
    wire.DutySlot(T0, T0 + timedelta(hours=8), ("张三", "李四（党员先锋队）")),
    wire.DutySlot(T0 + timedelta(hours=8), T0 + timedelta(hours=16), ()),
)


def _bundle(duty: tuple[wire.DutySlot, ...] | None) -> wire.Bundle:
    return wire.Bundle.build(
        generated_at=T0,
        community=wire.Community(350322, "幸福里", "Asia/Shanghai"),
        rules=RuleSet(),
        keys=KeySet(()),
        revoked_pass_ids=(),
        households=(HouseholdState(1),),
        duty=duty,
    )


def test_duty_round_trips_and_changes_the_content_hash() -> None:
    bundle = _bundle(SLOTS)
    data = bundle.to_json()
    assert data["duty"][0] == {
        "starts_at": "2026-12-05T00:00:00Z",
        "ends_at": "2026-12-05T08:00:00Z",
        "names": ["张三", "李四（党员先锋队）"],
    }
    assert wire.Bundle.from_json(data).duty == SLOTS
    without = _bundle(None)
    assert "duty" not in without.to_json()
    assert wire.Bundle.from_json(without.to_json()).duty is None
    assert bundle.content_hash != without.content_hash


@pytest.mark.parametrize(
    ("slot", "field"),
    [
        ({"starts_at": "2026-12-05T08:00:00Z", "ends_at": "2026-12-05T00:00:00Z", "names": []},
         "duty[0].ends_at"),
        ({"starts_at": "2026-12-05T00:00:00Z", "ends_at": "2026-12-05T08:00:00Z", "names": [""]},
         "duty[0].names"),
        ({"starts_at": "2026-12-05T00:00:00Z", "ends_at": "2026-12-05T08:00:00Z", "names": "张三"},
         "duty[0].names"),
        ({"starts_at": "2026-12-05T00:00:00Z", "ends_at": "2026-12-05T08:00:00Z"}, "duty[0]"),
    ],
)  # fmt: skip
def test_a_bad_duty_slot_is_refused_naming_the_field(slot: dict[str, Any], field: str) -> None:
    data = _bundle(SLOTS).to_json()
    data["duty"] = [slot]
    with pytest.raises(WireFormatError) as caught:
        wire.Bundle.from_json(data)
    assert field in str(caught.value)
