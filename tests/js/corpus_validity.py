"""Corpus cases: the pass itself (shape, signature, key, community, time)."""

from __future__ import annotations

import struct
from datetime import timedelta

from corpus_builder import Corpus
from corpus_keys import (
    ACTIVE,
    COMMUNITY,
    IMPOSTOR,
    KEY_PERIOD_END,
    KEY_PERIOD_START,
    OTHER_COMMUNITY,
    PERIOD,
    RETIRED,
    REVOKED,
    SHARED,
    SHARED_DECOY,
    UNLISTED,
    at,
    make_pass,
    malleate,
    private_key,
    reencode,
    tamper,
)

from passes import Direction, HouseholdState, HouseholdStatus, Override, RuleSet
from passes.base45 import b45encode
from passes.pass_format import signed_message
from passes.screen_code import SCREEN_PREFIX

NOW = at("2026-11-22T08:00:00")
ISSUED = at("2026-11-01T00:00:00")
UNTIL = at("2026-12-31T23:59:59")
RULES = RuleSet()
OVERRIDE = Override(supervisor="王主任", reason="就医")
MS = timedelta(milliseconds=1)


def _id(n: int) -> bytes:
    return bytes([0xA0, n]) + bytes(range(10))


def add_pass_validity(corpus: Corpus) -> None:
    """bad_format ... expired, revoked, unknown_household, superseded; each as decide and verify."""
    household = HouseholdState(household_id=1001)
    fields, good = make_pass(
        ACTIVE, pass_id=_id(1), household_id=1001, issued_at=ISSUED, valid_until=UNTIL
    )
    texts: list[tuple[str, object]] = [
        ("good", good),
        ("empty", ""),
        ("prefix-only", "CP1:"),
        ("lowercase-prefix", "cp1:" + good[4:]),
        ("lowercase-payload", good[:4] + good[4:].lower()),
        ("wrong-prefix", "CP2:" + good[4:]),
        ("url", "https://example.org/CP1"),
        ("short", good[:-1]),
        ("long", good + "0"),
        ("oversize", good * 4),
        ("bad-character", good[:-1] + "#"),
        ("bad-character-unicode", good[:-1] + "é"),
        ("emoji-oversize", "CP1:" + "😀" * 300),
        ("emoji-length", "CP1:" + "😀" * 146),
        ("cjk", "出入证" + good[3:]),
        ("bad-base45", good[:-3] + ":::"),
        ("screen-prefix", SCREEN_PREFIX + good[4:]),
        ("whitespace", " " + good),
        ("newline", good + "\n"),
        ("unknown-version", tamper(good, 0, 0x03)),
        ("tampered-household", tamper(good, 16)),
        ("tampered-signature", tamper(good, 60)),
        ("tampered-last-byte", tamper(good, 96, 0x80)),
        ("malleated-s", malleate(good)),
        ("zero-signature", reencode(fields, bytes(64))),
        (
            "impostor-key",
            make_pass(
                IMPOSTOR, pass_id=_id(2), household_id=1001, issued_at=ISSUED, valid_until=UNTIL
            )[1],
        ),
        (
            "unlisted-key",
            make_pass(
                UNLISTED, pass_id=_id(3), household_id=1001, issued_at=ISSUED, valid_until=UNTIL
            )[1],
        ),
        (
            "retired-key",
            make_pass(
                RETIRED, pass_id=_id(4), household_id=1001, issued_at=ISSUED, valid_until=UNTIL
            )[1],
        ),
        (
            "revoked-key",
            make_pass(
                REVOKED, pass_id=_id(5), household_id=1001, issued_at=ISSUED, valid_until=UNTIL
            )[1],
        ),
        (
            "shared-id-second-key",
            make_pass(
                SHARED, pass_id=_id(6), household_id=1001, issued_at=ISSUED, valid_until=UNTIL
            )[1],
        ),
        (
            "shared-id-first-key",
            make_pass(
                SHARED_DECOY, pass_id=_id(7), household_id=1001, issued_at=ISSUED, valid_until=UNTIL
            )[1],
        ),
        (
            "other-community",
            make_pass(
                ACTIVE,
                pass_id=_id(8),
                household_id=1001,
                issued_at=ISSUED,
                valid_until=UNTIL,
                community_id=OTHER_COMMUNITY,
            )[1],
        ),
        (
            "validity-400-days",
            make_pass(
                ACTIVE,
                pass_id=_id(9),
                household_id=1001,
                issued_at=ISSUED,
                valid_until=ISSUED + timedelta(days=400),
            )[1],
        ),
        (
            "validity-400-days-1s",
            make_pass(
                ACTIVE,
                pass_id=_id(10),
                household_id=1001,
                issued_at=ISSUED,
                valid_until=ISSUED + timedelta(days=400, seconds=1),
            )[1],
        ),
        (
            "period-at-start",
            make_pass(
                PERIOD,
                pass_id=_id(11),
                household_id=1001,
                issued_at=KEY_PERIOD_START,
                valid_until=UNTIL,
            )[1],
        ),
        (
            "period-before-start",
            make_pass(
                PERIOD,
                pass_id=_id(12),
                household_id=1001,
                issued_at=KEY_PERIOD_START - timedelta(seconds=1),
                valid_until=UNTIL,
            )[1],
        ),
        (
            "period-at-end",
            make_pass(
                PERIOD,
                pass_id=_id(13),
                household_id=1001,
                issued_at=KEY_PERIOD_END,
                valid_until=KEY_PERIOD_END + timedelta(days=30),
            )[1],
        ),
        (
            "period-after-end",
            make_pass(
                PERIOD,
                pass_id=_id(14),
                household_id=1001,
                issued_at=KEY_PERIOD_END + timedelta(seconds=1),
                valid_until=KEY_PERIOD_END + timedelta(days=30),
            )[1],
        ),
        ("until-before-issued", reencode_backwards()),
    ]
    for name, text in texts:
        corpus.add_verify(f"validity/{name}", text, now=NOW)
        if isinstance(text, str):
            corpus.add_decide(f"validity/{name}", text, rules=RULES, now=NOW, household=household)
            corpus.add_decide(
                f"validity/{name}/override",
                text,
                rules=RULES,
                now=NOW,
                household=household,
                override=OVERRIDE,
                temperature=380,
            )
    for name, value in (
        ("none", None),
        ("number", 12345),
        ("bytes-like-list", [1, 2]),
        ("object", {"pass": good}),
    ):
        corpus.add_verify(f"validity/not-text-{name}", value, now=NOW)
    # Time edges of a pass: valid from issued_at through valid_until inclusive.
    for name, now in (
        ("before-issued-1ms", ISSUED - MS),
        ("at-issued", ISSUED),
        ("at-until", UNTIL),
        ("until-plus-1ms", UNTIL + MS),
        ("until-plus-1s", UNTIL + timedelta(seconds=1)),
        ("far-past", at("2020-01-01T00:00:00")),
    ):
        corpus.add_verify(f"validity/time-{name}", good, now=now)
        corpus.add_decide(f"validity/time-{name}", good, rules=RULES, now=now, household=household)
    # Household record: revoked, unknown, superseded.
    corpus.add_decide(
        "validity/revoked", good, rules=RULES, now=NOW, household=household, revoked=(_id(1),)
    )
    corpus.add_decide(
        "validity/revoked-other", good, rules=RULES, now=NOW, household=household, revoked=(_id(2),)
    )
    corpus.add_decide("validity/unknown-household", good, rules=RULES, now=NOW, household=None)
    corpus.add_decide(
        "validity/other-household",
        good,
        rules=RULES,
        now=NOW,
        household=HouseholdState(household_id=1002),
    )
    for generation in (0, 2, 65535):
        state = HouseholdState(household_id=1001, generation=generation)
        corpus.add_decide(
            f"validity/superseded-{generation}", good, rules=RULES, now=NOW, household=state
        )
    quarantined = HouseholdState(household_id=1001, status=HouseholdStatus.QUARANTINED)
    corpus.add_decide(
        "validity/revoked-beats-quarantine",
        good,
        rules=RULES,
        now=NOW,
        household=quarantined,
        revoked=(_id(1),),
        direction=Direction.IN,
    )
    # Extreme ids.
    for household_id in (0, 2**32 - 1):
        _, text = make_pass(
            ACTIVE,
            pass_id=_id(20),
            household_id=household_id,
            issued_at=ISSUED,
            valid_until=UNTIL,
            generation=65535,
        )
        state = HouseholdState(household_id=household_id, generation=65535)
        corpus.add_decide(
            f"validity/household-id-{household_id}", text, rules=RULES, now=NOW, household=state
        )


def reencode_backwards() -> str:
    """A signed pass whose valid_until is before issued_at (refused by shape: bad_field)."""
    body = struct.pack(
        ">BH12sIIHII", 1, 1, _id(30), 1001, COMMUNITY, 1, 2_000_000_000, 1_999_999_999
    )
    return "CP1:" + b45encode(body + private_key("active").sign(signed_message(body)))
