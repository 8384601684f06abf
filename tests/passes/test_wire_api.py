"""The public API of ``passes`` and the wire formats it speaks are held here on purpose.

Adding to ``passes.__all__`` is a decision (both the gate and the scanner may come to depend
on it); removing a name breaks them. A format string changes only with a new vector folder.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import passes
from passes import Code, Direction, Override, WireFormatError, wire

PUBLIC_API = [
    "CARD_PREFIX",
    "MAX_INPUT_LENGTH",
    "MAX_PEOPLE",
    "OVERRIDE_REFUSAL_CODES",
    "PASS_VALIDITY_CODES",
    "PREFIX",
    "REMEASURE_CODES",
    "SCREEN_PREFIX",
    "TEXT_LENGTH",
    "VISITOR_PREFIX",
    "CardCheck",
    "CardRejected",
    "CardState",
    "Code",
    "CountKind",
    "Direction",
    "ExitHours",
    "HouseholdState",
    "HouseholdStatus",
    "KeyEntry",
    "KeySet",
    "KeyStatus",
    "Override",
    "Pass",
    "PassCheck",
    "PassError",
    "PassRejected",
    "Quota",
    "RuleSet",
    "RuleSetError",
    "ScreenCode",
    "ScreenCodeCheck",
    "SignedPass",
    "SigningKey",
    "SupervisorCard",
    "TemperatureRules",
    "Verdict",
    "VerifiedCard",
    "VerifiedPass",
    "VerifiedScreenCode",
    "VerifiedVisitorPass",
    "VisitorKind",
    "VisitorPass",
    "VisitorPassCheck",
    "VisitorPassRejected",
    "WindowKind",
    "WireFormatError",
    "ZoneLevel",
    "ZoneLock",
    "ZoneScope",
    "advance",
    "card_for",
    "card_standing",
    "consumes",
    "counted_exits",
    "decide",
    "decide_visitor",
    "decide_walk_in",
    "describe",
    "format_utc",
    "is_screen_code",
    "is_supervisor_card",
    "is_visitor_pass",
    "last_day_covered",
    "new_pass_id",
    "next_exit_at",
    "overdue_since",
    "parse_pass",
    "parse_screen_code",
    "parse_supervisor_card",
    "parse_utc",
    "parse_visitor_pass",
    "qr_modules",
    "qr_version",
    "quota_free_at",
    "reason",
    "render_png",
    "render_svg",
    "rules_from_dict",
    "rules_from_json",
    "screen_code_for",
    "screen_pass_check",
    "sealing_lock",
    "sign_screen_code",
    "sign_supervisor_card",
    "sign_visitor_pass",
    "verify_pass",
    "verify_screen_code",
    "verify_supervisor_card",
    "verify_visitor_pass",
    "visitor_pass_for",
    "wire",
]

CURRENT_FORMATS = {
    "scan": "checkpoint.scan.v1",
    "verdict": "checkpoint.verdict.v1",
    "crossing": "checkpoint.crossing.v1",
    "batch": "checkpoint.batch.v1",
    "batch_result": "checkpoint.batch-result.v1",
    "bundle": "checkpoint.bundle.v1",
}
VECTORS = Path(__file__).parent / "vectors" / "wire_v1"


def test_the_public_api_of_passes_is_exactly_this_list() -> None:
    assert passes.__all__ == PUBLIC_API
    for name in PUBLIC_API:
        assert hasattr(passes, name), name


def test_every_public_name_of_the_wire_module_exists() -> None:
    for name in wire.__all__:
        assert hasattr(wire, name), name


def test_the_wire_vectors_carry_the_current_format_strings() -> None:
    assert set(wire.FORMATS) == set(CURRENT_FORMATS.values())
    for kind, fmt in CURRENT_FORMATS.items():
        vectors = json.loads((VECTORS / f"{kind}.json").read_text("utf-8"))
        assert vectors["format"] == fmt
        assert {case["json"]["format"] for case in vectors["valid"]} == {fmt}


def test_the_remeasure_codes_have_one_home_and_pick_the_amber_screen() -> None:
    assert {Code.SENSOR_ERROR, Code.NO_TEMPERATURE} == passes.REMEASURE_CODES
    assert [wire.display_of(False, code) for code in sorted(passes.REMEASURE_CODES)] == [
        "remeasure",
        "remeasure",
    ]
    assert wire.display_of(False, "quota") == "refuse"
    assert wire.display_of(True, "sensor_error") == "allow"
    assert wire.display_of(False, None) == "refuse"


def test_a_scan_built_in_code_round_trips() -> None:
    scan = wire.Scan(
        id="6f1f8f66-3f5a-4c53-9d43-7d1c9b0c2a11",
        pass_text="CP1:X",
        direction=Direction.OUT,
        temperature=365,
        scanned_at=datetime(2026, 11, 22, 1, tzinfo=UTC),
        override=Override("王", "就医"),
    )
    assert wire.Scan.from_json(scan.to_json()) == scan
    item = wire.Crossing(scan, wire.Claim(False, "quota", ("quota",), (), 3))
    assert wire.Crossing.from_json(item.to_json()) == item
    assert wire.Batch.from_json(wire.Batch((item,)).to_json()) == wire.Batch((item,))


def test_uuids_are_read_in_their_canonical_form() -> None:
    body = json.loads((VECTORS / "scan.json").read_text("utf-8"))["valid"][0]["json"]
    upper = {**body, "id": body["id"].upper()}
    assert wire.Scan.from_json(upper).id == body["id"]


def test_a_v0_scan_is_read_as_v1_with_absent_optional_fields_null_and_extras_ignored() -> None:
    body = json.loads((VECTORS / "scan.json").read_text("utf-8"))["valid"][0]["json"]
    v0 = {key: body[key] for key in ("id", "pass", "direction", "scanned_at")} | {"x": 1}
    scan = wire.Scan.from_json(wire.from_v0(v0, wire.Scan))
    assert (scan.temperature, scan.operator, scan.override, scan.latency_ms) == (None,) * 4
    assert wire.from_v0(body, wire.Scan) is body  # a v1 body is left alone


def test_a_v0_crossing_and_bundle_are_read_as_v1() -> None:
    item = json.loads((VECTORS / "crossing.json").read_text("utf-8"))["valid"][0]["json"]
    v0 = {k: v for k, v in item.items() if k != "format"} | {"offline": True}
    v0["verdict"] = {"allowed": True, "rule_version": 1, "display": "allow"}
    assert wire.Crossing.from_json(wire.from_v0(v0, wire.Crossing)).verdict == wire.Claim(
        True, None, (), (), 1
    )
    bundle = json.loads((VECTORS / "bundle.json").read_text("utf-8"))["valid"][0]["json"]
    old = {k: v for k, v in bundle.items() if k not in ("format", "content_hash")}
    old["version"] = bundle["content_hash"]
    assert wire.Bundle.from_json(wire.from_v0(old, wire.Bundle)).to_json() == bundle


def test_a_batch_over_the_limit_is_refused() -> None:
    item = json.loads((VECTORS / "crossing.json").read_text("utf-8"))["valid"][0]["json"]
    with pytest.raises(WireFormatError, match="at most 500"):
        wire.batch_entries({"format": wire.BATCH_FORMAT, "crossings": [item] * 501})
    assert wire.batch_entries({"crossings": [1, "x"]}) == [1, "x"]  # items judged one by one
