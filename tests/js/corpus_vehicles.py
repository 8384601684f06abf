"""Corpus cases: cars (passes.vehicle_decision): vehicle passes (VH1) with and without a typed
plate, their validity and the household's standing; plates typed alone under the community's
vehicles rule; the vehicles section of the rule JSON, good and bad."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from typing import Any

from corpus_builder import Corpus
from corpus_keys import (
    ACTIVE,
    COMMUNITY,
    KEYS,
    KEYSETS,
    OTHER_COMMUNITY,
    PERIOD,
    REVOKED,
    UNLISTED,
    at,
    private_key,
)
from corpus_render import verdict_json

from passes import (
    Direction,
    HouseholdState,
    HouseholdStatus,
    RuleSet,
    SigningKey,
    format_utc,
    wire,
)
from passes.base45 import b45encode
from passes.rules import LocalPlates, OutsidePlates, RuleSetError, VehicleRules, rules_from_dict
from passes.vehicle_decision import VehicleDecision, decide_plate, decide_vehicle
from passes.vehicle_pass import (
    VEHICLE_PREFIX,
    VEHICLE_SIGNING_CONTEXT,
    sign_vehicle_pass,
    vehicle_pass_for,
)

NOW = at("2026-11-22T08:00:00")
ISSUED = at("2026-10-01T00:00:00")
PASS_ID = bytes.fromhex("7c" * 12)
HOUSEHOLD = 1201
LOCAL_ONLY = RuleSet(vehicles=VehicleRules(("鲁E",), LocalPlates.ALLOW, OutsidePlates.REFUSE))
REGISTER = RuleSet(vehicles=VehicleRules(("鲁",), LocalPlates.REFUSE, OutsidePlates.REGISTER))
CLOSED = RuleSet(closed=True, vehicles=LOCAL_ONLY.vehicles)
RULES = (RuleSet(), LOCAL_ONLY, REGISTER, CLOSED)


def _text(
    key: SigningKey = ACTIVE,
    *,
    plate: str = "鲁E12345",
    household_id: int = HOUSEHOLD,
    community_id: int = COMMUNITY,
    issued_at: datetime = ISSUED,
    valid_for: timedelta = timedelta(days=90),
    pass_id: bytes = PASS_ID,
) -> str:
    fields = vehicle_pass_for(
        key_id=key.entry.key_id,
        pass_id=pass_id,
        community_id=community_id,
        household_id=household_id,
        issued_at=issued_at,
        valid_for=valid_for,
        plate=plate,
    )
    return sign_vehicle_pass(key, fields)


def _raw(plate_bytes: bytes, issued: int, until: int) -> str:
    body = struct.pack(
        ">BH12sIIII16s", 1, 1, PASS_ID, COMMUNITY, HOUSEHOLD, issued, until, plate_bytes
    )
    signature = private_key("active").sign(VEHICLE_SIGNING_CONTEXT + body)
    return VEHICLE_PREFIX + b45encode(body + signature)


def _answer(decision: VehicleDecision) -> dict[str, Any]:
    return {**verdict_json(decision.verdict), "plate": decision.plate, "outside": decision.outside}


def _vehicle(
    corpus: Corpus,
    group: str,
    text: str,
    *,
    typed: str | None = None,
    household: HouseholdState | None = None,
    revoked: tuple[bytes, ...] = (),
    rules: RuleSet = LOCAL_ONLY,
    direction: Direction = Direction.IN,
    now: datetime = NOW,
) -> None:
    state = HouseholdState(HOUSEHOLD) if household is None else household
    decision = decide_vehicle(
        text,
        typed_plate=typed,
        keys=KEYSETS["main"],
        community_id=COMMUNITY,
        household=state,
        revoked_pass_ids=frozenset(revoked),
        rules=rules,
        direction=direction,
        now=now,
    )
    corpus.add_case(
        f"vehicles/{group}",
        "vehicle",
        presented=text,
        typed=typed,
        keys="main",
        community_id=COMMUNITY,
        household=state.to_dict(),
        revoked=[pass_id.hex() for pass_id in revoked],
        rules=corpus.rules_name(rules),
        direction=direction.value,
        now=format_utc(now),
        expected=_answer(decision),
    )


def add_vehicles(corpus: Corpus) -> None:
    """Every car case (see the module doc)."""
    good = _text()
    for direction in Direction:
        for rules in RULES:
            _vehicle(corpus, "good", good, rules=rules, direction=direction)
    for typed in ("鲁E12345", "鲁e 12345", "鲁E54321", "鲁E", "", "京A12345"):
        _vehicle(corpus, "typed", good, typed=typed)
    for name, text in (
        ("new_energy", _text(plate="鲁ED12345")),
        ("outside_resident", _text(plate="京A88888")),
        ("embassy", _text(plate="使014578")),
        ("hong_kong", _text(plate="粤Z1234港")),
        ("unknown_key", _text(UNLISTED)),
        ("revoked_key", _text(REVOKED)),
        ("outside_key_period", _text(PERIOD, issued_at=at("2027-01-02T00:00:00"))),
        ("other_community", _text(community_id=OTHER_COMMUNITY)),
        ("not_yet_valid", _text(issued_at=NOW + timedelta(seconds=1))),
        ("expired", _text(valid_for=timedelta(days=30))),
        ("last_second", _text(issued_at=NOW - timedelta(days=1), valid_for=timedelta(days=1))),
        ("other_household", _text(household_id=HOUSEHOLD + 1)),
        ("household_pass", "CP1:" + good[4:]),
        ("lowercase", good.lower()),
        ("short", good[:-1]),
        ("junk", "VH1:hello"),
        ("bad_plate_bytes", _raw("鲁E1234".encode().ljust(16, b"\0"), 1790000000, 1790086400)),
        ("not_normalised", _raw("鲁e12345".encode().ljust(16, b"\0"), 1790000000, 1790086400)),
        ("bad_utf8", _raw(b"\xff" * 16, 1790000000, 1790086400)),
        (
            "nul_inside",
            _raw(b"\xe9\xb2\x81E\x00" + b"12345".ljust(11, b"\0"), 1790000000, 1790086400),
        ),
        (
            "too_long",
            _raw("鲁E12345".encode().ljust(16, b"\0"), 1790000000, 1790000000 + 401 * 86400),
        ),
        ("backwards", _raw("鲁E12345".encode().ljust(16, b"\0"), 1790086400, 1790000000)),
    ):
        for direction in Direction:
            _vehicle(corpus, name, text, direction=direction)
    _vehicle(corpus, "revoked", good, revoked=(PASS_ID,))
    until = NOW + timedelta(days=3)
    quarantined = HouseholdState(
        HOUSEHOLD, status=HouseholdStatus.QUARANTINED, quarantine_until=until
    )
    endless = HouseholdState(HOUSEHOLD, status=HouseholdStatus.QUARANTINED)
    exempt = HouseholdState(HOUSEHOLD, status=HouseholdStatus.EXEMPT)
    over = HouseholdState(HOUSEHOLD, status=HouseholdStatus.QUARANTINED, quarantine_until=NOW)
    for name, state in (
        ("quarantined", quarantined),
        ("quarantined_endless", endless),
        ("quarantine_over", over),
        ("exempt", exempt),
    ):
        for rules in (LOCAL_ONLY, CLOSED):
            for direction in Direction:
                _vehicle(corpus, name, good, household=state, rules=rules, direction=direction)
    _vehicle(corpus, "quarantined_typed_mismatch", good, typed="鲁E00000", household=quarantined,
             direction=Direction.OUT)  # fmt: skip
    _add_plates(corpus)
    _add_rule_json(corpus)
    _add_bundle_cases(corpus)


REVOKED_ID = bytes.fromhex("7d" * 12)


def _add_bundle_cases(corpus: Corpus) -> None:
    """A vehicle pass decided offline with a bundle (scanner.deciding.decide_offline): its
    keys and revoked ids, the state of the pass's household (quarantine on the way out,
    全封闭), no state moved; a stale bundle, a clock before the bundle's. The scanner types no
    plate, so these cases carry none."""
    generated = NOW - timedelta(hours=1)
    quarantined = HouseholdState(
        HOUSEHOLD, status=HouseholdStatus.QUARANTINED, quarantine_until=NOW + timedelta(days=3)
    )
    for name, rules, state in (
        ("vehicles", LOCAL_ONLY, HouseholdState(HOUSEHOLD)),
        ("vehicles-quarantined", LOCAL_ONLY, quarantined),
        ("vehicles-closed", CLOSED, HouseholdState(HOUSEHOLD)),
    ):
        corpus.bundles[name] = wire.Bundle.build(
            generated_at=generated,
            community=wire.Community(id=COMMUNITY, name="阳光小区", timezone=rules.timezone),
            rules=rules,
            keys=KEYS,
            revoked_pass_ids=(REVOKED_ID,),
            households=(state,),
            household_codes={HOUSEHOLD: "3-2-401"},
        ).to_json()
    texts = {
        "good": _text(),
        "revoked": _text(pass_id=REVOKED_ID),
        "other-household": _text(household_id=HOUSEHOLD + 1),
        "other-community": _text(community_id=OTHER_COMMUNITY),
        "expired": _text(valid_for=timedelta(days=30)),
        "unknown-key": _text(UNLISTED),
    }
    moments = {
        "now": NOW,
        "stale": generated + timedelta(hours=24, milliseconds=1),
        "before-bundle": generated - timedelta(minutes=3),
    }
    for bundle_name in ("vehicles", "vehicles-quarantined", "vehicles-closed"):
        for (name, text), (when, now), direction in (
            (item, moment, direction)
            for item in texts.items()
            for moment in moments.items()
            for direction in Direction
        ):
            corpus.add_bundle_case(
                f"vehicles/bundle/{bundle_name}/{name}/{when}/{direction.value}",
                bundle_name,
                text,
                now=now,
                fetched_at=generated,
                direction=direction,
                temperature=None,
            )


PLATES = (
    "鲁E12345", "鲁e 12345", "鲁B12345", "鲁ED12345", "鲁E12345D", "京A12345", "沪AF12345",
    "使014578", "粤Z1234港", "鲁E1234警", "鲁E", "港A12345", "", "  ", "鲁E1234O", "鲁Ｅ１２３４５",
    "鲁EX12345", "鲁E123456",
)  # fmt: skip


def _add_plates(corpus: Corpus) -> None:
    for rules in RULES:
        for plate in PLATES:
            for direction in Direction:
                decision = decide_plate(plate=plate, rules=rules, direction=direction)
                corpus.add_case(
                    "vehicles/plate",
                    "plate",
                    plate=plate,
                    rules=corpus.rules_name(rules),
                    direction=direction.value,
                    expected=_answer(decision),
                )


RULE_INPUTS: tuple[tuple[str, object], ...] = (
    ("default", {}),
    ("full", {"local_prefixes": ["鲁E", "鲁B"], "local": "refuse", "outside": "register"}),
    ("province", {"local_prefixes": ["鲁"]}),
    ("duplicates", {"local_prefixes": ["鲁E", "鲁E"]}),
    ("null", None),
    ("not_object", []),
    ("unknown", {"plates": []}),
    ("prefixes_text", {"local_prefixes": "鲁E"}),
    ("prefix_number", {"local_prefixes": [1]}),
    ("prefix_bad", {"local_prefixes": ["XX"]}),
    ("prefix_long", {"local_prefixes": ["鲁EA"]}),
    ("prefix_i", {"local_prefixes": ["鲁I"]}),
    ("prefix_embassy", {"local_prefixes": ["使"]}),
    ("too_many", {"local_prefixes": ["鲁"] * 41}),
    ("local_bad", {"local": "register"}),
    ("local_number", {"local": 1}),
    ("outside_bad", {"outside": "allow"}),
    ("outside_null", {"outside": None}),
)


def _rules_answer(data: object) -> dict[str, Any]:
    try:
        rules = rules_from_dict(data)
    except RuleSetError as exc:
        return {"ok": False, "field": exc.field, "problem": exc.problem, "params": exc.params}
    return {"ok": True, "rules": rules.to_dict()}


def _add_rule_json(corpus: Corpus) -> None:
    for name, vehicles in RULE_INPUTS:
        data = {"version": 3, "vehicles": vehicles}
        corpus.add_case(f"rules/vehicles/{name}", "rules", input=data, expected=_rules_answer(data))
