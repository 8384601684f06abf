"""Corpus cases: the offline decision with a bundle, as the scanner makes it."""

from __future__ import annotations

import inspect
from datetime import datetime, time, timedelta
from itertools import product
from typing import Any

from corpus_builder import Corpus
from corpus_keys import ACTIVE, COMMUNITY, KEYS, at, make_pass, screen_code, tamper

from passes import (
    CardState,
    Direction,
    ExitHours,
    HouseholdState,
    HouseholdStatus,
    Override,
    Quota,
    RuleSet,
    WindowKind,
    card_for,
    sign_supervisor_card,
    wire,
)
from scanner.deciding import decide_offline

ISSUED = at("2026-01-01T00:00:00")
UNTIL = at("2026-12-31T23:59:59")
OVERRIDE = Override(supervisor="赵组长", reason="紧急就医")
MS = timedelta(milliseconds=1)
CARD_ID = b"\xc3" * 12
REVOKED_CARD_ID = b"\xc4" * 12
UNLISTED_CARD_ID = b"\xc5" * 12
EXPIRING_ID = b"\xc6" * 12
CARD_STEPS = ("hour-later", "age-24h+1ms", "clock-fault")


def supervisor_card(card_id: bytes, account_id: int, *, days: int = 390) -> str:
    """A card of this community signed by the active key, valid from ISSUED for ``days``."""
    fields = card_for(
        key_id=1,
        card_id=card_id,
        account_id=account_id,
        community_id=COMMUNITY,
        issued_at=ISSUED,
        valid_for=timedelta(days=days),
    )
    return sign_supervisor_card(ACTIVE, fields)


def _cards_supported() -> bool:
    """Whether this tree's scanner checks supervisor cards offline (decide_offline unlocked=)."""
    return "unlocked" in inspect.signature(decide_offline).parameters


def _bundle(
    generated: Any,
    rules: RuleSet,
    states: tuple[HouseholdState, ...],
    revoked: tuple[bytes, ...],
    passes: tuple[Any, ...],
    codes: dict[int, str],
) -> dict[str, Any]:
    optional: dict[str, Any] = {}
    parameters = inspect.signature(wire.Bundle.build).parameters
    if "household_codes" in parameters:  # the bundle's optional fields, where this tree has them
        optional = {
            "household_codes": codes,
            "passes": passes,
            "supervisor_cards": tuple(
                CardState(card_id=card_id, account_id=account, valid_until=UNTIL)
                for card_id, account in ((CARD_ID, 9), (REVOKED_CARD_ID, 10), (EXPIRING_ID, 11))
            ),
            "revoked_card_ids": (REVOKED_CARD_ID,),
        }
    bundle = wire.Bundle.build(
        generated_at=generated,
        community=wire.Community(id=COMMUNITY, name="阳光小区", timezone=rules.timezone),
        rules=rules,
        keys=KEYS,
        revoked_pass_ids=revoked,
        households=states,
        **optional,
    )
    return bundle.to_json()


def add_bundles(corpus: Corpus) -> None:
    """Three bundles (Shanghai quota, Berlin exit hours, New York rolling window) and scans
    around their clock-fault and staleness edges."""
    made = {
        hid: make_pass(
            ACTIVE,
            pass_id=bytes([0xC0, hid % 256]) + bytes(10),
            household_id=hid,
            issued_at=ISSUED,
            valid_until=UNTIL,
        )
        for hid in (4001, 4002, 4003, 4004, 4005)
    }
    texts = {f"h{hid}": text for hid, (_, text) in made.items()}
    texts["tampered"] = tamper(texts["h4001"], 50)
    texts["not-a-pass"] = "hello"
    _, texts["unregistered"] = make_pass(
        ACTIVE, pass_id=b"\xc1" * 12, household_id=4999, issued_at=ISSUED, valid_until=UNTIL
    )
    unknown_pass, _ = make_pass(
        ACTIVE, pass_id=b"\xc2" * 12, household_id=4001, issued_at=ISSUED, valid_until=UNTIL
    )
    card = supervisor_card(CARD_ID, 9)
    cards = {
        "card": card,
        "card-revoked": supervisor_card(REVOKED_CARD_ID, 10),
        "card-unlisted": supervisor_card(UNLISTED_CARD_ID, 12),
        "card-expired": supervisor_card(EXPIRING_ID, 11, days=30),
        "card-garbage": "SV1:NOT-A-CARD",
    }
    setups = {
        "shanghai": (at("2026-11-22T00:30:00"), RuleSet(version=3)),
        "berlin": (
            at("2026-03-28T22:00:00"),
            RuleSet(
                version=4,
                timezone="Europe/Berlin",
                exit_hours=ExitHours(time(6, 0), time(22, 0)),
                quota=Quota(exits=2, length=2),
            ),
        ),
        "new-york": (
            at("2026-11-01T04:00:00"),
            RuleSet(
                version=5,
                timezone="America/New_York",
                quota=Quota(exits=1, window=WindowKind.ROLLING_HOURS, length=24),
                max_out_at_once=2,
                max_outside_minutes=120,
            ),
        ),
    }
    for name, (generated, rules) in setups.items():
        states = (
            HouseholdState(household_id=4001),
            HouseholdState(
                household_id=4002,
                exits=(generated - timedelta(hours=3, microseconds=654_321),),
                out_since=(generated - timedelta(hours=3, microseconds=654_321),),
            ),
            HouseholdState(
                household_id=4003,
                status=HouseholdStatus.QUARANTINED,
                quarantine_until=generated + timedelta(days=2),
            ),
            HouseholdState(
                household_id=4004,
                status=HouseholdStatus.EXEMPT,
                exits=(generated - timedelta(hours=1),),
            ),
            HouseholdState(household_id=4005, generation=2),
        )
        corpus.bundles[name] = _bundle(
            generated,
            rules,
            states,
            (made[4001][0].pass_id,) if name == "new-york" else (),
            tuple(fields for fields, _ in made.values()),
            {4001: "1-1-101", 4002: "3-2-401"},
        )
        fetches = (generated, generated + timedelta(hours=1))
        nows = {
            "clock-fault": generated - timedelta(minutes=2) - MS,
            "tolerance-edge": generated - timedelta(minutes=2),
            "at-generation": generated,
            "hour-later": generated + timedelta(hours=1, minutes=7),
            "age-24h": generated + timedelta(hours=24),
            "age-24h+1ms": generated + timedelta(hours=24) + MS,
            "age-25h": generated + timedelta(hours=25),
            "days-later": generated + timedelta(days=3, hours=5),
        }
        scans = [
            (f"{when}/fetched+{fetched - generated}/{text_name}", now, fetched, texts[text_name])
            for fetched in fetches
            for when, now in nows.items()
            for text_name in ("h4001", "h4002")
        ]
        scans += [
            (f"{when}/{text_name}", nows[when], generated, text)
            for when in ("hour-later", "age-24h+1ms")
            for text_name, text in texts.items()
        ]
        for label, now, fetched, text in scans:
            for direction, override in product(Direction, (None, OVERRIDE)):
                corpus.add_bundle_case(
                    f"bundle/{name}/{label}/{direction.value}/{override is not None}",
                    name,
                    text,
                    now=now,
                    fetched_at=fetched,
                    direction=direction,
                    override=override,
                )
        # Screen codes (CS1) and a supervisor card presented as a pass.
        for when in ("at-generation", "hour-later", "age-24h+1ms"):
            now = nows[when]
            start = (now - timedelta(seconds=60)).replace(microsecond=0)
            codes = {
                "screen-fresh": screen_code(ACTIVE, made[4001][0], valid_from=start, seconds=120),
                "screen-stale": screen_code(ACTIVE, made[4002][0], valid_from=start, seconds=30),
                "screen-superseded": screen_code(
                    ACTIVE, made[4005][0], valid_from=start, seconds=120
                ),
                "screen-quarantined": screen_code(
                    ACTIVE, made[4003][0], valid_from=start, seconds=120
                ),
                "screen-unknown-pass": screen_code(
                    ACTIVE, unknown_pass, valid_from=start, seconds=120
                ),
                "card": card,
            }
            for text_name, text in codes.items():
                label = f"bundle/{name}/{when}/{text_name}"
                for direction, override in product(Direction, (None, OVERRIDE)):
                    corpus.add_bundle_case(
                        f"{label}/{direction.value}/{override is not None}",
                        name,
                        text,
                        now=now,
                        direction=direction,
                        override=override,
                    )
        if _cards_supported():
            _add_card_cases(corpus, name, nows, texts, cards)
        # The device's own newer crossings (the journal) count: quota and people out.
        now = generated + timedelta(hours=2)
        mine = HouseholdState(
            household_id=4001,
            out_since=(now - timedelta(minutes=30),),
            exits=(now - timedelta(minutes=30),),
        )
        for direction in Direction:
            corpus.add_bundle_case(
                f"bundle/{name}/local/{direction.value}",
                name,
                texts["h4001"],
                now=now,
                direction=direction,
                local=mine,
            )
        for temperature in (None, 380, 500):
            corpus.add_bundle_case(
                f"bundle/{name}/temperature-{temperature}",
                name,
                texts["h4001"],
                now=now,
                temperature=temperature,
            )
            corpus.add_bundle_case(
                f"bundle/{name}/temperature-{temperature}/stale",
                name,
                texts["h4001"],
                now=now + timedelta(days=2),
                temperature=temperature,
                override=OVERRIDE,
            )
        corpus.add_bundle_case(
            f"bundle/{name}/short-limit",
            name,
            texts["h4001"],
            now=now,
            max_bundle_age=timedelta(hours=1),
        )
    for direction in Direction:
        corpus.add_bundle_case(
            f"bundle/none/{direction.value}",
            None,
            texts["h4001"],
            now=at("2026-11-22T08:00:00"),
            direction=direction,
        )


def _add_card_cases(
    corpus: Corpus,
    name: str,
    nows: dict[str, datetime],
    texts: dict[str, str],
    cards: dict[str, str],
) -> None:
    """Overrides made with supervisor cards, unlocked devices, and the unlock itself."""
    for step in CARD_STEPS:
        now = nows[step]
        for card_name, card_text in cards.items():
            override = Override(supervisor="主管卡", reason="就医", card=card_text)
            for text_name in ("h4001", "h4002", "h4003", "tampered"):
                corpus.add_bundle_case(
                    f"bundle/{name}/{step}/{card_name}/{text_name}",
                    name,
                    texts[text_name],
                    now=now,
                    override=override,
                    temperature=380 if text_name == "h4001" else 365,
                )
            for faulty in (False, True):
                corpus.add_unlock_case(
                    f"unlock/{name}/{step}/{card_name}/{faulty}",
                    name,
                    card_text,
                    now=now,
                    faulty=faulty,
                )
        for text_name in ("h4001", "h4002", "h4004"):
            for clock_fault in (False, True):
                corpus.add_bundle_case(
                    f"bundle/{name}/{step}/unlocked/{text_name}/{clock_fault}",
                    name,
                    texts[text_name],
                    now=now,
                    unlocked=True,
                    clock_fault=clock_fault,
                )
            corpus.add_bundle_case(
                f"bundle/{name}/{step}/clock-check-failed/{text_name}",
                name,
                texts[text_name],
                now=now,
                clock_fault=True,
            )
    corpus.add_unlock_case(
        f"unlock/{name}/none", None, cards["card"], now=nows["hour-later"], faulty=False
    )
