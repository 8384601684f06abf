"""Corpus cases: supervisor cards (SV1) as an offline gate checks them against its bundle."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from typing import Any

from corpus_builder import Corpus
from corpus_keys import (
    ACTIVE,
    COMMUNITY,
    IMPOSTOR,
    KEY_PERIOD_END,
    KEYSETS,
    OTHER_COMMUNITY,
    PERIOD,
    REVOKED,
    SHARED,
    UNLISTED,
    at,
    malleate,
    private_key,
    tamper,
)

from passes import (
    CardRejected,
    CardState,
    SigningKey,
    card_for,
    card_standing,
    format_utc,
    sign_supervisor_card,
    verify_supervisor_card,
)
from passes.base45 import b45encode
from passes.supervisor_card import CARD_PREFIX, CARD_SIGNING_CONTEXT

NOW = at("2026-11-22T08:00:00")
ISSUED = at("2026-06-01T00:00:00")
CARD_ID = bytes.fromhex("5a" * 12)
ACCOUNT = 42


def _card(
    key: SigningKey = ACTIVE,
    *,
    card_id: bytes = CARD_ID,
    account_id: int = ACCOUNT,
    community_id: int = COMMUNITY,
    issued_at: datetime = ISSUED,
    valid_for: timedelta = timedelta(days=300),
) -> str:
    fields = card_for(
        key_id=key.entry.key_id,
        card_id=card_id,
        account_id=account_id,
        community_id=community_id,
        issued_at=issued_at,
        valid_for=valid_for,
    )
    return sign_supervisor_card(key, fields)


def _raw_card(issued: int, until: int) -> str:
    body = struct.pack(">BH12sIIII", 1, 1, CARD_ID, ACCOUNT, COMMUNITY, issued, until)
    return CARD_PREFIX + b45encode(body + private_key("active").sign(CARD_SIGNING_CONTEXT + body))


def _answer(text: object, now: datetime, known: list[CardState], revoked: list[bytes]) -> Any:
    check = card_standing(
        verify_supervisor_card(text, KEYSETS["main"], community_id=COMMUNITY, now=now),
        known={state.card_id: state for state in known},
        revoked=frozenset(revoked),
    )
    fields = check.fields
    return {
        "kind": "rejected" if isinstance(check, CardRejected) else "card",
        "code": str(check.code) if isinstance(check, CardRejected) else None,
        "detail": check.detail if isinstance(check, CardRejected) else None,
        "account_id": None if fields is None else fields.account_id,
        "card_id": None if fields is None else fields.card_id.hex(),
    }


def add_cards(corpus: Corpus) -> None:
    """Cards good, forged, expired, foreign, unknown to the bundle and revoked in it."""
    good = _card()
    until = ISSUED + timedelta(days=300)
    listed = [CardState(card_id=CARD_ID, account_id=ACCOUNT, valid_until=until)]
    texts: dict[str, object] = {
        "good": good,
        "tampered": tamper(good, 40, prefix=CARD_PREFIX),
        "malleated": malleate(good, body_length=31, prefix=CARD_PREFIX),
        "lowercase": good.lower(),
        "pass-prefix": "CP1:" + good[4:],
        "short": good[:-1],
        "not-text": 5,
        "unlisted-key": _card(UNLISTED),
        "impostor-key": _card(IMPOSTOR),
        "revoked-key": _card(REVOKED),
        "shared-id": _card(SHARED),
        "period-key-outside": _card(PERIOD, issued_at=KEY_PERIOD_END + timedelta(days=1)),
        "other-community": _card(community_id=OTHER_COMMUNITY),
        "validity-400-days": _card(valid_for=timedelta(days=400)),
        "validity-over-400-days": _raw_card(
            int(ISSUED.timestamp()), int((ISSUED + timedelta(days=400, seconds=1)).timestamp())
        ),
        "ends-before-start": _raw_card(int(ISSUED.timestamp()), int(ISSUED.timestamp()) - 1),
        "other-account": _card(account_id=43),
        "other-card": _card(card_id=bytes.fromhex("6b" * 12)),
    }
    lists = {
        "listed": (listed, []),
        "revoked": (listed, [CARD_ID]),
        "unlisted": ([], []),
    }
    moments = {
        "now": NOW,
        "before-issue": ISSUED - timedelta(milliseconds=1),
        "at-issue": ISSUED,
        "at-until": until,
        "after-until": until + timedelta(milliseconds=1),
    }
    for text_name, text in texts.items():
        for list_name, (known, revoked) in lists.items():
            for moment_name, now in moments.items():
                if moment_name != "now" and (text_name != "good" or list_name != "listed"):
                    continue
                corpus.add_case(
                    f"card/{text_name}/{list_name}/{moment_name}",
                    "card",
                    text=text,
                    keys="main",
                    community_id=COMMUNITY,
                    now=format_utc(now),
                    known=[
                        {
                            "card_id": s.card_id.hex(),
                            "account_id": s.account_id,
                            "valid_until": format_utc(s.valid_until),
                        }
                        for s in known
                    ],
                    revoked=[card_id.hex() for card_id in revoked],
                    expected=_answer(text, now, known, revoked),
                )
