"""Corpus cases: reading rule JSON and bundle JSON as strictly as Python does.

The phone gate reads both from the server; the JavaScript must accept what Python accepts and
refuse what it refuses, naming the same field (and, for rules, the same problem code). Inputs
are JSON that both languages read alike: no whole-valued floats (3.0 is 3 in JavaScript) and
no object keys that look like integers (JavaScript lists those first).
"""

from __future__ import annotations

import copy
from typing import Any

from corpus_builder import Corpus

from passes import RuleSetError, WireFormatError, rules_from_dict, wire

RULE_INPUTS: list[tuple[str, object]] = [
    ("minimal", {"version": 1}),
    (
        "full",
        {
            "version": 9,
            "timezone": "Europe/Berlin",
            "quota": {"exits": 2, "window": "rolling_hours", "length": 36},
            "max_out_at_once": 3,
            "exit_hours": {"start": "22:00", "end": "06:00"},
            "max_outside_minutes": 90,
            "temperature": {
                "required": False,
                "fever_threshold_tenths": 375,
                "plausible_min_tenths": 350,
                "plausible_max_tenths": 420,
            },
        },
    ),
    ("not-object", [1]),
    ("text", "rules"),
    ("null", None),
    ("empty", {}),
    ("unknown-field", {"version": 1, "quorum": 2}),
    ("version-0", {"version": 0}),
    ("version-max", {"version": 2**31 - 1}),
    ("version-over", {"version": 2**31}),
    ("version-true", {"version": True}),
    ("version-text", {"version": "1"}),
    ("version-fraction", {"version": 1.5}),
    ("zone-lowercase", {"version": 1, "timezone": "asia/shanghai"}),
    ("zone-unknown", {"version": 1, "timezone": "Mars/Olympus"}),
    ("zone-directory", {"version": 1, "timezone": "Asia"}),
    ("zone-offset", {"version": 1, "timezone": "+08:00"}),
    ("zone-empty", {"version": 1, "timezone": ""}),
    ("zone-number", {"version": 1, "timezone": 8}),
    ("zone-utc", {"version": 1, "timezone": "UTC"}),
    ("zone-etc-utc", {"version": 1, "timezone": "Etc/UTC"}),
    ("zone-link", {"version": 1, "timezone": "US/Eastern"}),
    ("zone-half-hour", {"version": 1, "timezone": "Asia/Kolkata"}),
    ("zone-bad-before-version", {"timezone": "Nowhere"}),
    ("quota-null", {"version": 1, "quota": None}),
    ("quota-empty", {"version": 1, "quota": {}}),
    ("quota-list", {"version": 1, "quota": [1]}),
    ("quota-exits-0", {"version": 1, "quota": {"exits": 0}}),
    ("quota-exits-100", {"version": 1, "quota": {"exits": 100}}),
    ("quota-exits-101", {"version": 1, "quota": {"exits": 101}}),
    ("quota-window-weeks", {"version": 1, "quota": {"window": "weeks"}}),
    ("quota-window-number", {"version": 1, "quota": {"window": 3}}),
    ("quota-days-366", {"version": 1, "quota": {"length": 366}}),
    ("quota-days-367", {"version": 1, "quota": {"length": 367}}),
    ("quota-hours-8784", {"version": 1, "quota": {"window": "rolling_hours", "length": 8784}}),
    ("quota-hours-8785", {"version": 1, "quota": {"window": "rolling_hours", "length": 8785}}),
    ("quota-unknown", {"version": 1, "quota": {"per": "day"}}),
    ("out-0", {"version": 1, "max_out_at_once": 0}),
    ("out-99", {"version": 1, "max_out_at_once": 99}),
    ("out-100", {"version": 1, "max_out_at_once": 100}),
    ("out-null", {"version": 1, "max_out_at_once": None}),
    ("hours-null", {"version": 1, "exit_hours": None}),
    ("hours-short-form", {"version": 1, "exit_hours": {"start": "6:0", "end": "20:00"}}),
    ("hours-spaces-sign", {"version": 1, "exit_hours": {"start": " 6:00", "end": "+20:00"}}),
    ("hours-underscore", {"version": 1, "exit_hours": {"start": "0_6:00", "end": "20:00"}}),
    ("hours-24", {"version": 1, "exit_hours": {"start": "24:00", "end": "06:00"}}),
    ("hours-minute-60", {"version": 1, "exit_hours": {"start": "06:60", "end": "20:00"}}),
    ("hours-seconds", {"version": 1, "exit_hours": {"start": "06:00:00", "end": "20:00"}}),
    ("hours-dash", {"version": 1, "exit_hours": {"start": "06-00", "end": "20:00"}}),
    ("hours-negative", {"version": 1, "exit_hours": {"start": "-1:00", "end": "20:00"}}),
    ("hours-equal", {"version": 1, "exit_hours": {"start": "06:00", "end": "6:00"}}),
    ("hours-missing-end", {"version": 1, "exit_hours": {"start": "06:00"}}),
    ("hours-number", {"version": 1, "exit_hours": {"start": 6, "end": 20}}),
    ("hours-unknown", {"version": 1, "exit_hours": {"start": "06:00", "end": "20:00", "days": 5}}),
    ("hours-text", {"version": 1, "exit_hours": "06:00-20:00"}),
    ("outside-0", {"version": 1, "max_outside_minutes": 0}),
    ("outside-max", {"version": 1, "max_outside_minutes": 43200}),
    ("outside-over", {"version": 1, "max_outside_minutes": 43201}),
    ("outside-text", {"version": 1, "max_outside_minutes": "30"}),
    ("temperature-null", {"version": 1, "temperature": None}),
    ("temperature-empty", {"version": 1, "temperature": {}}),
    ("temperature-required-text", {"version": 1, "temperature": {"required": "yes"}}),
    ("closed-true", {"version": 1, "closed": True}),
    ("closed-false", {"version": 1, "closed": False}),
    ("closed-text", {"version": 1, "closed": "yes"}),
    ("closed-number", {"version": 1, "closed": 1}),
    ("closed-null", {"version": 1, "closed": None}),
    ("temperature-required-null", {"version": 1, "temperature": {"required": None}}),
    ("temperature-min-299", {"version": 1, "temperature": {"plausible_min_tenths": 299}}),
    ("temperature-max-451", {"version": 1, "temperature": {"plausible_max_tenths": 451}}),
    ("temperature-fever-at-min", {"version": 1, "temperature": {"fever_threshold_tenths": 340}}),
    ("temperature-fever-at-max", {"version": 1, "temperature": {"fever_threshold_tenths": 430}}),
    ("temperature-fever-over-max", {"version": 1, "temperature": {"fever_threshold_tenths": 431}}),
    ("temperature-unknown", {"version": 1, "temperature": {"unit": "C"}}),
    ("two-problems", {"version": 0, "max_out_at_once": 0}),
]


def _rules_answer(data: object) -> dict[str, Any]:
    try:
        rules = rules_from_dict(data)
    except RuleSetError as exc:
        return {"ok": False, "field": exc.field, "problem": exc.problem, "params": exc.params}
    return {"ok": True, "rules": rules.to_dict()}


def add_rule_json(corpus: Corpus) -> None:
    """Rule objects, good and bad: the rule set, or the field and problem refused."""
    for name, data in RULE_INPUTS:
        corpus.add_case(f"rules/{name}", "rules", input=data, expected=_rules_answer(data))


def _bundle_answer(data: object) -> dict[str, Any]:
    try:
        bundle = wire.Bundle.from_json(data)
    except WireFormatError as exc:
        return {"ok": False, "field": exc.field}
    return {
        "ok": True,
        "content_hash": bundle.content_hash,
        "households": sorted(state.household_id for state in bundle.households),
        "revoked_pass_ids": sorted(pass_id.hex() for pass_id in bundle.revoked_pass_ids),
        "key_ids": [entry.key_id for entry in bundle.keys],
        "rule_version": bundle.rules.version,
        "passes": None
        if bundle.passes is None
        else sorted(fields.pass_id.hex() for fields in bundle.passes),
    }


def _mutations(good: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("good", good)]

    def change(name: str, edit: Any) -> None:
        data = copy.deepcopy(good)
        edit(data)
        out.append((name, data))

    change("no-format", lambda d: d.pop("format"))
    change("format-v2", lambda d: d.update(format="checkpoint.bundle.v2"))
    change("format-and-missing", lambda d: (d.pop("households"), d.update(format="x")))
    change("missing-households", lambda d: d.pop("households"))
    change("missing-rules-and-keys", lambda d: (d.pop("rules"), d.pop("keys")))
    change("extra-field", lambda d: d.update(comment="hi"))
    change("content-hash-empty", lambda d: d.update(content_hash=""))
    change("content-hash-long", lambda d: d.update(content_hash="a" * 65))
    change("content-hash-number", lambda d: d.update(content_hash=5))
    change("generated-naive", lambda d: d.update(generated_at="2026-11-22T08:00:00"))
    change("generated-offset", lambda d: d.update(generated_at="2026-11-22T16:00:00+08:00"))
    change("generated-garbage", lambda d: d.update(generated_at="yesterday"))
    change("community-missing-name", lambda d: d["community"].pop("name"))
    change("community-extra", lambda d: d["community"].update(city="x"))
    change("community-id-0", lambda d: d["community"].update(id=0))
    change("community-id-text", lambda d: d["community"].update(id="7"))
    change("community-name-empty", lambda d: d["community"].update(name=""))
    change("community-name-long", lambda d: d["community"].update(name="区" * 201))
    change("community-name-nul", lambda d: d["community"].update(name="a\x00b"))
    change("community-zone-empty", lambda d: d["community"].update(timezone=""))
    change("community-not-object", lambda d: d.update(community=[7]))
    change("rules-list", lambda d: d.update(rules=[]))
    change("rules-bad", lambda d: d["rules"].update(max_out_at_once=0))
    change("rules-no-version", lambda d: d["rules"].pop("version"))
    change("keys-object", lambda d: d.update(keys={}))
    change("keys-bad-base64", lambda d: d["keys"][0].update(public_key="***"))
    change("keys-short", lambda d: d["keys"][0].update(public_key="AAAA"))
    change("keys-bad-status", lambda d: d["keys"][0].update(status="lost"))
    change("keys-bad-algorithm", lambda d: d["keys"][0].update(algorithm="rsa"))
    change("keys-missing-id", lambda d: d["keys"][0].pop("key_id"))
    change("revoked-not-list", lambda d: d.update(revoked_pass_ids="ab"))
    change("revoked-not-hex", lambda d: d.update(revoked_pass_ids=["zz"]))
    change("revoked-upper", lambda d: d.update(revoked_pass_ids=["ABCDEF0123456789ABCDEF01"]))
    change("households-not-list", lambda d: d.update(households={}))
    change("households-bad-status", lambda d: d["households"][0].update(status="away"))
    change("households-null-time", lambda d: d["households"][0].update(out_since=[None]))
    change(
        "households-naive-time", lambda d: d["households"][0].update(exits=["2026-11-22T08:00:00"])
    )
    change("households-missing-id", lambda d: d["households"][0].pop("household_id"))
    change("codes-null", lambda d: d.update(household_codes=None))
    change("codes-list", lambda d: d.update(household_codes=["1-1-101"]))
    change("codes-bad-key", lambda d: d.update(household_codes={"h1": "1-1-101"}))
    change("codes-empty-code", lambda d: d.update(household_codes={"4001": ""}))
    change("codes-long-code", lambda d: d.update(household_codes={"4001": "1" * 33}))
    change("passes-null", lambda d: d.update(passes=None))
    change("passes-empty", lambda d: d.update(passes=[]))
    change("passes-not-list", lambda d: d.update(passes={}))
    change("passes-bad-id", lambda d: d["passes"][0].update(pass_id="xyz"))
    change("passes-missing-key-id", lambda d: d["passes"][0].pop("key_id"))
    change(
        "passes-later-shape-first",
        lambda d: (d["passes"][0].update(pass_id="x"), d["passes"][1].pop("generation")),
    )
    change("passes-backwards", lambda d: d["passes"][0].update(valid_until="2020-01-01T00:00:00Z"))
    change("passes-fraction", lambda d: d["passes"][0].update(issued_at="2026-01-01T00:00:00.5Z"))
    change("passes-generation-big", lambda d: d["passes"][0].update(generation=65536))
    change(
        "cards",
        lambda d: d.update(
            supervisor_cards=[
                {"card_id": "ab" * 12, "account_id": 3, "valid_until": "2027-01-01T00:00:00Z"}
            ],
            revoked_card_ids=["cd" * 12],
        ),
    )
    change(
        "cards-bad-account",
        lambda d: d.update(
            supervisor_cards=[
                {"card_id": "ab" * 12, "account_id": 0, "valid_until": "2027-01-01T00:00:00Z"}
            ]
        ),
    )
    change(
        "cards-extra",
        lambda d: d.update(
            supervisor_cards=[
                {
                    "card_id": "ab" * 12,
                    "account_id": 3,
                    "valid_until": "2027-01-01T00:00:00Z",
                    "name": "x",
                }
            ]
        ),
    )
    change("revoked-cards-short", lambda d: d.update(revoked_card_ids=["cd" * 11]))
    slot = {
        "starts_at": "2026-11-22T06:00:00Z",
        "ends_at": "2026-11-22T14:00:00Z",
        "names": ["张三"],
    }
    later = {"starts_at": "2026-11-22T14:00:00Z", "ends_at": "2026-11-22T22:00:00Z", "names": []}
    change("duty", lambda d: d.update(duty=[slot, later]))
    change("duty-null", lambda d: d.update(duty=None))
    change("duty-not-list", lambda d: d.update(duty={}))
    change("duty-extra", lambda d: d.update(duty=[slot | {"gate": 1}]))
    change(
        "duty-missing-names", lambda d: d.update(duty=[{k: slot[k] for k in slot if k != "names"}])
    )
    change("duty-backwards", lambda d: d.update(duty=[slot | {"ends_at": slot["starts_at"]}]))
    change("duty-bad-time", lambda d: d.update(duty=[slot | {"starts_at": "yesterday"}]))
    change("duty-name-empty", lambda d: d.update(duty=[slot | {"names": [""]}]))
    change("duty-names-many", lambda d: d.update(duty=[slot | {"names": ["甲"] * 17}]))
    change("duty-name-long", lambda d: d.update(duty=[slot | {"names": ["甲" * 65]}]))
    change("duty-too-many", lambda d: d.update(duty=[later] * 65))
    out.append(("not-object", [good]))
    return out


def add_bundle_json(corpus: Corpus) -> None:
    """Bundles as the server sends them, and broken ones: read, or the field refused."""
    for bundle_name in sorted(corpus.bundles):
        for name, data in _mutations(corpus.bundles[bundle_name]):
            if name != "good" and bundle_name != "shanghai":
                continue
            corpus.add_case(
                f"bundle-json/{bundle_name}/{name}",
                "bundle_read",
                input=data,
                expected=_bundle_answer(data),
            )
