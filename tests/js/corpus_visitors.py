"""Corpus cases: outsiders (passes.visitor_decision): visitor passes (VP1) in both directions,
their window, single use, revocation, keys and shape; temperatures; walk-ins turned back and
deliveries handed over; and visitor passes decided offline with a bundle (its used and revoked
ids, the device's own earlier entry, a stale bundle, a clock fault)."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

from corpus_builder import Corpus
from corpus_bundle import OVERRIDE
from corpus_keys import (
    ACTIVE,
    COMMUNITY,
    IMPOSTOR,
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
    RuleSet,
    SigningKey,
    TemperatureRules,
    VisitorKind,
    decide_visitor,
    decide_walk_in,
    format_utc,
    sign_visitor_pass,
    verify_visitor_pass,
    visitor_pass_for,
    wire,
)
from passes.base45 import b45encode
from passes.visitor_decision import consumes
from passes.visitor_pass import VISITOR_PREFIX, VISITOR_SIGNING_CONTEXT

NOW = at("2026-11-22T08:00:00")
START = NOW - timedelta(hours=2)
UNTIL = NOW + timedelta(hours=6)
PASS_ID = bytes.fromhex("5e" * 12)
OPTIONAL = RuleSet(temperature=TemperatureRules(required=False))
DEFAULT = RuleSet()
RULES = (DEFAULT, OPTIONAL)
TEMPERATURES: tuple[object, ...] = (365, 373, 372, None, "36.5", 250, True)


def _text(
    key: SigningKey = ACTIVE,
    *,
    community_id: int = COMMUNITY,
    valid_from: datetime = START,
    valid_until: datetime = UNTIL,
    single_use: bool = True,
    kind: VisitorKind = VisitorKind.VISITOR,
    pass_id: bytes = PASS_ID,
) -> str:
    fields = visitor_pass_for(
        key_id=key.entry.key_id,
        pass_id=pass_id,
        community_id=community_id,
        valid_from=valid_from,
        valid_until=valid_until,
        single_use=single_use,
        kind=kind,
    )
    return sign_visitor_pass(key, fields)


def _raw(uses: int, kind: int, start: int, until: int) -> str:
    body = struct.pack(">BH12sIIIBB", 1, 1, PASS_ID, COMMUNITY, start, until, uses, kind)
    signature = private_key("active").sign(VISITOR_SIGNING_CONTEXT + body)
    return VISITOR_PREFIX + b45encode(body + signature)


def _visitor(
    corpus: Corpus,
    group: str,
    text: str,
    *,
    used: tuple[bytes, ...] = (),
    revoked: tuple[bytes, ...] = (),
    rules: RuleSet = DEFAULT,
    direction: Direction = Direction.IN,
    temperature: object = 365,
    now: datetime = NOW,
) -> None:
    verdict = decide_visitor(
        text,
        keys=KEYSETS["main"],
        community_id=COMMUNITY,
        used_pass_ids=frozenset(used),
        revoked_pass_ids=frozenset(revoked),
        rules=rules,
        direction=direction,
        temperature=temperature,
        now=now,
    )
    check = verify_visitor_pass(text, KEYSETS["main"], community_id=COMMUNITY)
    corpus.add_case(
        f"visitors/{group}",
        "visitor",
        presented=text,
        keys="main",
        community_id=COMMUNITY,
        used=[pass_id.hex() for pass_id in used],
        revoked=[pass_id.hex() for pass_id in revoked],
        rules=corpus.rules_name(rules),
        direction=direction.value,
        temperature=temperature,
        now=format_utc(now),
        expected={**verdict_json(verdict), "consumes": consumes(verdict, check)},
    )


def add_visitors(corpus: Corpus) -> None:
    """Every outsider case (see the module doc)."""
    good = _text()
    for direction in Direction:
        for single_use in (True, False):
            text = _text(single_use=single_use)
            _visitor(corpus, "good", text, direction=direction)
            _visitor(corpus, "used", text, used=(PASS_ID,), direction=direction)
            _visitor(corpus, "revoked", text, revoked=(PASS_ID,), direction=direction)
        for name, now in (
            ("first_second", START),
            ("last_second", UNTIL),
            ("before", START - timedelta(seconds=1)),
            ("after", UNTIL + timedelta(seconds=1)),
            ("days_after", UNTIL + timedelta(days=3)),
        ):
            _visitor(corpus, name, good, now=now, direction=direction)
            _visitor(corpus, f"{name}_used", good, now=now, used=(PASS_ID,), direction=direction)
        for rules in RULES:
            for temperature in TEMPERATURES:
                _visitor(
                    corpus, "temperature", good, rules=rules, temperature=temperature,
                    direction=direction,
                )  # fmt: skip
    for kind in VisitorKind:
        _visitor(corpus, f"kind_{kind.key}", _text(kind=kind))
    for name, text in (
        ("unknown_key", _text(UNLISTED)),
        ("revoked_key", _text(REVOKED)),
        ("impostor", _text(IMPOSTOR)),
        ("outside_key_period", _text(PERIOD, valid_from=at("2027-01-02T00:00:00"),
                                     valid_until=at("2027-01-03T00:00:00"))),
        ("other_community", _text(community_id=OTHER_COMMUNITY)),
        ("household_pass_prefix", "CP1:" + good[4:]),
        ("lowercase", good.lower()),
        ("short", good[:-1]),
        ("junk", "VP1:hello"),
        ("uses_2", _raw(2, 1, 1790000000, 1790003600)),
        ("kind_0", _raw(1, 0, 1790000000, 1790003600)),
        ("kind_6", _raw(1, 6, 1790000000, 1790003600)),
        ("too_long", _raw(1, 1, 1790000000, 1790000000 + 32 * 86400)),
        ("backwards", _raw(1, 1, 1790003600, 1790000000)),
    ):  # fmt: skip
        for direction in Direction:
            _visitor(corpus, name, text, direction=direction)
    _add_walk_ins(corpus)
    _add_bundle_cases(corpus)


def _add_walk_ins(corpus: Corpus) -> None:
    for handed_over in (False, True):
        for rules in RULES:
            for direction in Direction:
                for temperature in TEMPERATURES:
                    verdict = decide_walk_in(
                        handed_over=handed_over,
                        rules=rules,
                        direction=direction,
                        temperature=temperature,
                    )
                    corpus.add_case(
                        "visitors/walk_in",
                        "walk_in",
                        handed_over=handed_over,
                        rules=corpus.rules_name(rules),
                        direction=direction.value,
                        temperature=temperature,
                        expected=verdict_json(verdict),
                    )


USED_ID = bytes.fromhex("5f" * 12)
REVOKED_ID = bytes.fromhex("60" * 12)
MANY_ID = bytes.fromhex("61" * 12)


def _add_bundle_cases(corpus: Corpus) -> None:
    """The offline decision of a visitor pass with a bundle (scanner.deciding.decide_offline):
    the bundle's used and revoked visitor ids, an entry this device made itself (its journal),
    exits never refused for them, a stale bundle, a clock before the bundle's."""
    generated = NOW - timedelta(hours=1)
    corpus.bundles["visitors"] = wire.Bundle.build(
        generated_at=generated,
        community=wire.Community(id=COMMUNITY, name="阳光小区", timezone=DEFAULT.timezone),
        rules=DEFAULT,
        keys=KEYS,
        revoked_pass_ids=(REVOKED_ID,),
        households=(),
        used_visitor_pass_ids=(USED_ID,),
    ).to_json()
    texts = {
        "single": _text(),
        "used": _text(pass_id=USED_ID),
        "revoked": _text(pass_id=REVOKED_ID),
        "many": _text(pass_id=MANY_ID, single_use=False),
        "two-days": _text(pass_id=MANY_ID, valid_until=NOW + timedelta(days=2)),
        "many-used-id": _text(pass_id=USED_ID, single_use=False),
        "expired": _text(valid_from=START - timedelta(days=2), valid_until=START),
        "other-community": _text(community_id=OTHER_COMMUNITY),
        "impostor": _text(IMPOSTOR),
    }
    moments = {
        "now": NOW,
        "stale": generated + timedelta(hours=24, milliseconds=1),
        "before-bundle": generated - timedelta(minutes=3),
    }
    for (name, text), (when, now), direction in (
        (item, moment, direction)
        for item in texts.items()
        for moment in moments.items()
        for direction in Direction
    ):
        for mine, entered in (("none", ()), ("self", (text,)), ("other", (texts["many"],))):
            corpus.add_bundle_case(
                f"visitors/bundle/{name}/{when}/{direction.value}/entered-{mine}",
                "visitors",
                text,
                now=now,
                direction=direction,
                entered=entered,
            )
    for temperature in (None, 380, 500):
        corpus.add_bundle_case(
            f"visitors/bundle/temperature-{temperature}",
            "visitors",
            texts["single"],
            now=NOW,
            direction=Direction.IN,
            temperature=temperature,
        )
    for name in ("single", "used"):  # an override does not lift a visitor pass's refusal
        corpus.add_bundle_case(
            f"visitors/bundle/{name}/override",
            "visitors",
            texts[name],
            now=NOW,
            direction=Direction.IN,
            override=OVERRIDE,
            entered=(texts[name],),
        )
