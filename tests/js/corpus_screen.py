"""Corpus cases: rotating screen codes (CS1), fresh, stale, forged, and the pass they name."""

from __future__ import annotations

import struct
from datetime import timedelta

from corpus_builder import Corpus
from corpus_keys import (
    ACTIVE,
    IMPOSTOR,
    KEY_PERIOD_END,
    OTHER_COMMUNITY,
    PERIOD,
    RETIRED,
    REVOKED,
    SHARED,
    UNLISTED,
    make_pass,
    malleate,
    private_key,
    screen_code,
    tamper,
)
from corpus_validity import ISSUED, MS, NOW, OVERRIDE, RULES, UNTIL, _id

from passes import Direction, HouseholdState, HouseholdStatus
from passes.base45 import b45encode
from passes.screen_code import SCREEN_PREFIX, SCREEN_SIGNING_CONTEXT


def _raw_screen(valid_from: int, valid_until: int, pass_id: bytes, generation: int = 1) -> str:

    body = struct.pack(">BH12sHII", 1, 1, pass_id, generation, valid_from, valid_until)
    signature = private_key("active").sign(SCREEN_SIGNING_CONTEXT + body)
    return SCREEN_PREFIX + b45encode(body + signature)


def add_screen_codes(corpus: Corpus) -> None:
    """CS1 codes: fresh, stale, not yet valid, forged, and the pass they stand for."""
    issued, _ = make_pass(
        ACTIVE, pass_id=_id(40), household_id=2001, issued_at=ISSUED, valid_until=UNTIL
    )
    household = HouseholdState(household_id=2001)
    start = NOW - timedelta(seconds=60)
    fresh = screen_code(ACTIVE, issued, valid_from=start, seconds=120)
    codes = {
        "fresh": fresh,
        "lifetime-0": screen_code(ACTIVE, issued, valid_from=NOW, seconds=0),
        "lifetime-900": screen_code(ACTIVE, issued, valid_from=start, seconds=900),
        "lifetime-901": _raw_screen(
            int(start.timestamp()), int(start.timestamp()) + 901, issued.pass_id
        ),
        "ends-before-start": _raw_screen(
            int(NOW.timestamp()), int(NOW.timestamp()) - 1, issued.pass_id
        ),
        "tampered": tamper(fresh, 20, 0x04, prefix=SCREEN_PREFIX),
        "malleated": malleate(fresh, body_length=25, prefix=SCREEN_PREFIX),
        "lowercase": fresh.lower(),
        "pass-prefix": "CP1:" + fresh[4:],
        "unlisted-key": screen_code(UNLISTED, issued, valid_from=start, seconds=120),
        "impostor-key": screen_code(IMPOSTOR, issued, valid_from=start, seconds=120),
        "revoked-key": screen_code(REVOKED, issued, valid_from=start, seconds=120),
        "retired-key": screen_code(RETIRED, issued, valid_from=start, seconds=120),
        "shared-id": screen_code(SHARED, issued, valid_from=start, seconds=120),
        "period-key-outside": screen_code(PERIOD, issued, valid_from=start, seconds=120),
        "other-generation": screen_code(
            ACTIVE, issued, valid_from=start, seconds=120, generation=2
        ),
    }
    for name, text in codes.items():
        corpus.add_verify(f"screen/{name}", text, now=NOW, screen=True)
        corpus.add_screen(
            f"screen/{name}", text, issued=issued, rules=RULES, now=NOW, household=household
        )
    # The code's own time window, at its edges.
    for name, now in (
        ("before-from-1ms", start - MS),
        ("at-from", start),
        ("at-until", start + timedelta(seconds=120)),
        ("until-plus-1ms", start + timedelta(seconds=120, milliseconds=1)),
        ("an-hour-later", start + timedelta(hours=1)),
    ):
        corpus.add_verify(f"screen/time-{name}", fresh, now=now, screen=True)
        corpus.add_screen(
            f"screen/time-{name}", fresh, issued=issued, rules=RULES, now=now, household=household
        )
    # The stored pass it names.
    stored = {
        "no-pass-on-record": None,
        "another-pass": make_pass(
            ACTIVE, pass_id=_id(41), household_id=2001, issued_at=ISSUED, valid_until=UNTIL
        )[0],
        "pass-generation-2": make_pass(
            ACTIVE,
            pass_id=_id(40),
            household_id=2001,
            issued_at=ISSUED,
            valid_until=UNTIL,
            generation=2,
        )[0],
        "pass-unlisted-key": make_pass(
            UNLISTED, pass_id=_id(40), household_id=2001, issued_at=ISSUED, valid_until=UNTIL
        )[0],
        "pass-revoked-key": make_pass(
            REVOKED, pass_id=_id(40), household_id=2001, issued_at=ISSUED, valid_until=UNTIL
        )[0],
        "pass-shared-key": make_pass(
            SHARED, pass_id=_id(40), household_id=2001, issued_at=ISSUED, valid_until=UNTIL
        )[0],
        "pass-period-key-outside": make_pass(
            PERIOD,
            pass_id=_id(40),
            household_id=2001,
            issued_at=KEY_PERIOD_END + timedelta(days=1),
            valid_until=UNTIL + timedelta(days=30),
        )[0],
        "pass-other-community": make_pass(
            ACTIVE,
            pass_id=_id(40),
            household_id=2001,
            issued_at=ISSUED,
            valid_until=UNTIL,
            community_id=OTHER_COMMUNITY,
        )[0],
        "pass-not-yet-valid": make_pass(
            ACTIVE,
            pass_id=_id(40),
            household_id=2001,
            issued_at=NOW + timedelta(seconds=1),
            valid_until=UNTIL,
        )[0],
        "pass-expired": make_pass(
            ACTIVE,
            pass_id=_id(40),
            household_id=2001,
            issued_at=ISSUED,
            valid_until=NOW - timedelta(seconds=1),
        )[0],
        "pass-expires-now": make_pass(
            ACTIVE, pass_id=_id(40), household_id=2001, issued_at=ISSUED, valid_until=NOW
        )[0],
        "pass-other-household": make_pass(
            ACTIVE, pass_id=_id(40), household_id=2002, issued_at=ISSUED, valid_until=UNTIL
        )[0],
    }
    for name, facts in stored.items():
        corpus.add_screen(
            f"screen/{name}", fresh, issued=facts, rules=RULES, now=NOW, household=household
        )
    # Then the household rules, as for a card.
    states = {
        "quota-used": HouseholdState(household_id=2001, exits=(NOW - timedelta(hours=5),)),
        "someone-out": HouseholdState(household_id=2001, out_since=(NOW - timedelta(hours=1),)),
        "quarantined": HouseholdState(household_id=2001, status=HouseholdStatus.QUARANTINED),
        "superseded": HouseholdState(household_id=2001, generation=2),
        "unknown": None,
    }
    for name, state in states.items():
        for direction in Direction:
            corpus.add_screen(
                f"screen/{name}-{direction.value}",
                fresh,
                issued=issued,
                rules=RULES,
                now=NOW,
                household=state,
                direction=direction,
            )
            corpus.add_screen(
                f"screen/{name}-{direction.value}-override",
                fresh,
                issued=issued,
                rules=RULES,
                now=NOW,
                household=state,
                direction=direction,
                override=OVERRIDE,
            )
    corpus.add_screen(
        "screen/revoked-pass",
        fresh,
        issued=issued,
        rules=RULES,
        now=NOW,
        household=household,
        revoked=(issued.pass_id,),
    )
    corpus.add_screen(
        "screen/fever",
        fresh,
        issued=issued,
        rules=RULES,
        now=NOW,
        household=household,
        temperature=385,
    )
